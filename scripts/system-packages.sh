#!/bin/sh
# System packages the course uses besides Python, each checked and installed on its own (so one
# that cannot be installed never costs the other), and never required: what is missing turns off
# one thing, named below, and `make test` goes on.
#
#   bubblewrap  the sandbox grading runs student notebooks in (autograder/sandbox.py).
#               Missing: grading runs unsandboxed (the guard's audit hook only).
#   chromium    the browser for tests/test_browser.py (Playwright drives it; never downloaded).
#               Missing: that test is skipped. Ubuntu ships Chromium only as a snap (its apt
#               package chromium-browser just installs the snap), so it is not installed here.
#
# Installs only as root, with apt-get, only what is missing; elsewhere it says what to install.
# For tests, everything it looks at can be overridden: APT_GET, BWRAP, MCLIB_CHROMIUM,
# OS_RELEASE, SYSTEM_PACKAGES_UID.
set -u

APT_GET=${APT_GET:-apt-get}
BWRAP=${BWRAP:-bwrap}
CHROMIUM=${MCLIB_CHROMIUM:-/usr/bin/chromium}
OS_RELEASE=${OS_RELEASE:-/etc/os-release}
uid=${SYSTEM_PACKAGES_UID:-$(id -u)}

os_id=$( (. "$OS_RELEASE" 2>/dev/null && echo "${ID:-}") || true)

can_apt() { [ "$uid" = 0 ] && command -v "$APT_GET" >/dev/null 2>&1; }

updated=no
apt_install() {
    if [ "$updated" = no ]; then
        "$APT_GET" update -qq || true
        updated=yes
    fi
    echo "Installing $1 (apt-get)"
    DEBIAN_FRONTEND=noninteractive "$APT_GET" install -y -qq "$1"
}

how() {  # how to install package $1 by hand
    if command -v apt-get >/dev/null 2>&1; then echo "sudo apt-get install $1"
    elif command -v dnf >/dev/null 2>&1; then echo "sudo dnf install $1"
    elif command -v brew >/dev/null 2>&1; then echo "not available on macOS"
    else echo "your system's package manager"; fi
}

# bubblewrap --------------------------------------------------------------------------------------
if ! command -v "$BWRAP" >/dev/null 2>&1; then
    if can_apt; then apt_install bubblewrap || true; fi
    if ! command -v "$BWRAP" >/dev/null 2>&1; then
        echo "Missing: bubblewrap (bwrap). Grading runs student notebooks WITHOUT the sandbox" \
             "(they can read your files and use the network). Install it: $(how bubblewrap)."
    fi
fi

# chromium ----------------------------------------------------------------------------------------
if [ ! -x "$CHROMIUM" ]; then
    if [ "$os_id" = ubuntu ]; then
        echo "Missing: Chromium. On Ubuntu it comes only as a snap (sudo snap install chromium;" \
             "then MCLIB_CHROMIUM=/snap/bin/chromium, untested here). Without it the browser test" \
             "(tests/test_browser.py) is skipped; everything else runs."
    else
        if can_apt; then apt_install chromium || true; fi
        if [ ! -x "$CHROMIUM" ]; then
            echo "Missing: Chromium at $CHROMIUM. The browser test (tests/test_browser.py) is" \
                 "skipped; everything else runs. Install it ($(how chromium)) or set MCLIB_CHROMIUM."
        fi
    fi
fi
exit 0
