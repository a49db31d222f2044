#!/usr/bin/env bash
# The browser test needs Debian's chromium + chromium-driver. Installed when we can (root with apt-get),
# otherwise the test is skipped and says why. DP_SKIP_BROWSER_INSTALL=1 never installs anything.
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${DP_SKIP_BROWSER_INSTALL:-0}" != 1 ]; then
  echo "installing chromium and chromium-driver for the browser test (DP_SKIP_BROWSER_INSTALL=1 to skip)"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }; } \
    >/dev/null 2>&1 || echo "could not install chromium: the browser test will be skipped"
else
  echo "chromium/chromedriver not found: the browser test will be skipped (apt-get install chromium chromium-driver)"
fi
exit 0
