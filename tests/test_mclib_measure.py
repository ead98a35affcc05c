import math

import pytest
import torch
from torch import nn

from mclib import measure, models


def test_num_parameters_counts_shared_tensors_once_and_nonzeros():
    net = nn.Sequential(nn.Linear(3, 3, bias=False), nn.Linear(3, 3, bias=False))
    net[1].weight = net[0].weight
    assert measure.num_parameters(net) == 9
    with torch.no_grad():
        net[0].weight[0] = 0
    assert measure.num_parameters(net, nonzero=True) == 6


@pytest.mark.parametrize("n, bits, expected", [(3, 3, 2), (16, 32, 64), (0, 8, 0), (5, 1, 1)])
def test_dense_bytes_round_up(n, bits, expected):
    assert measure.dense_bytes(n, bits) == expected


def test_sparse_and_codebook_bytes():
    # 10 non-zeros, 32-bit values, 16-bit indices, 4 rows -> 10*48 + 5*16 bits = 560 bits = 70 B
    assert measure.sparse_bytes(10, 32, 16, num_rows=4) == 70
    assert measure.sparse_bytes(10, 8, 8) == 20
    # the lecture's k-means example: 16 values, 2-bit indices, 4 float32 centroids = 20 B
    assert measure.codebook_bytes(16, 2) == 20


@pytest.mark.parametrize("call", [lambda: measure.dense_bytes(-1), lambda: measure.dense_bytes(4, 0),
                                  lambda: measure.dense_bytes(4, 2.0), lambda: measure.dense_bytes(4, True),
                                  lambda: measure.sparse_bytes(4, 32, 0),
                                  lambda: measure.codebook_bytes(4, 0)])
def test_sizes_reject_bad_bits(call):
    with pytest.raises(ValueError, match="integer"):
        call()


def test_model_bytes_dense_and_sparse():
    lin = nn.Linear(4, 2)  # 10 parameters
    assert measure.model_bytes(lin) == 40
    assert measure.model_bytes(lin, bits=4) == 5
    with torch.no_grad():
        lin.weight.zero_()
    assert measure.model_bytes(lin, sparse=True, bits=32, index_bits=32) == math.ceil(2 * 64 / 8)


def test_count_macs_convention_and_per_module():
    net = models.DigitsCNN((4, 8))
    x = torch.zeros(1, 1, 8, 8)
    per = measure.macs_by_module(net, x)
    assert per == {"conv1": 4 * 9 * 64, "conv2": 8 * 4 * 9 * 64, "fc": 8 * 16 * 10}
    assert measure.count_macs(net, x) == sum(per.values())
    assert measure.count_macs(net, torch.zeros(5, 1, 8, 8)) == 5 * sum(per.values())


def test_count_macs_leaves_training_mode_alone():
    net = models.MLP([4, 2]).train()
    measure.count_macs(net, torch.zeros(1, 4))
    assert net.training


def test_measure_rejects_non_modules_and_non_tensors():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        measure.num_parameters("model")
    with pytest.raises(TypeError, match="tensor"):
        measure.count_macs(models.MLP([4, 2]), [1, 2, 3, 4])
    with pytest.raises(ValueError, match="min_run_time"):
        measure.latency(models.MLP([4, 2]), torch.zeros(1, 4), min_run_time=0)


def test_latency_reports_its_conditions():
    result = measure.latency(models.MLP([8, 4]), torch.zeros(16, 8), min_run_time=0.02, threads=1)
    assert result.median_ms > 0 and result.iqr_ms >= 0
    assert result.batch_size == 16 and result.threads == 1 and result.runs >= 1
    assert result.per_item_ms == pytest.approx(result.median_ms / 16)
    assert "batch 16" in str(result)


def test_comparison_table_ratios_and_rendering():
    table = measure.compare(measure.Row("dense", size_bytes=4000, macs=100, latency_ms=2.0, accuracy=0.9),
                            measure.Row("small", size_bytes=1000, macs=50, latency_ms=0.5, accuracy=0.88,
                                        extra={"note": "x"}))
    rec = table.records()[1]
    assert rec["size_ratio"] == 4 and rec["macs_ratio"] == 2 and rec["speedup"] == 4
    assert rec["accuracy_change_pts"] == pytest.approx(-2.0)
    assert "×4.00" in str(table) and "<table>" in table._repr_html_() and "note" in str(table)
    with pytest.raises(ValueError, match="at least one"):
        measure.compare()
