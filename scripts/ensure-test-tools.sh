#!/usr/bin/env bash
# Debian tools some tests need: chromium + chromium-driver (the browser test) and docker-compose
# (`docker-compose config` validates the compose file offline). Installed when we can (root with
# apt-get); otherwise those tests are skipped and say why. DP_SKIP_TOOL_INSTALL=1 (or the older
# DP_SKIP_BROWSER_INSTALL=1) never installs anything.
skip="${DP_SKIP_TOOL_INSTALL:-${DP_SKIP_BROWSER_INSTALL:-0}}"
missing=()
{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || missing+=(chromium chromium-driver)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
[ ${#missing[@]} = 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$skip" != 1 ]; then
  echo "installing ${missing[*]} for the browser and compose tests (DP_SKIP_TOOL_INSTALL=1 to skip)"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; }; } \
    >/dev/null 2>&1 || echo "could not install ${missing[*]}: the tests that need them will be skipped"
else
  echo "${missing[*]} not found: the tests that need them will be skipped (apt-get install ${missing[*]})"
fi
exit 0
