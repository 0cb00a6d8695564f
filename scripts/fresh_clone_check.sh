#!/usr/bin/env bash
# The README's run command from a fresh clone, in a clean environment: `make run` in a new clone
# (it builds its own .venv from requirements.txt), then Chromium opens the app and must see the
# Recognize page with the shipped model loaded. Run by .ci/run after the test command, which CI
# already runs on a fresh clone. Usage: scripts/fresh_clone_check.sh [REPO] (default: this checkout).
set -euo pipefail
repo="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
artifacts="$repo/test-artifacts"
mkdir -p "$artifacts" "$work/home"
server=""
cleanup() {
    if [ -n "$server" ]; then kill -TERM -- "-$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

git clone --quiet "$repo" "$work/clone"
echo "fresh clone of $(git -C "$work/clone" rev-parse --short HEAD) in $work/clone; running 'make run PORT=$port'"
# A clean environment: no variables of ours (no ALPR_*, no VIRTUAL_ENV), a HOME with nothing in it.
(cd "$work/clone" && exec setsid env -i HOME="$work/home" PATH="/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
    make run PORT="$port" >"$artifacts/fresh-clone-run.log" 2>&1) &
server=$!

# The first start installs the virtual environment (TensorFlow, JAX, PyAV, Dask...): allow it fifteen minutes.
for _ in $(seq 900); do
    if curl -fsS "http://127.0.0.1:$port/_stcore/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then echo "make run exited; see $artifacts/fresh-clone-run.log" >&2; exit 1; fi
    sleep 1
done
curl -fsS "http://127.0.0.1:$port/_stcore/health" >/dev/null || { echo "the app never answered; see $artifacts/fresh-clone-run.log" >&2; exit 1; }

"$work/clone/.venv/bin/python" - "$port" "$artifacts/fresh-clone.png" <<'EOF'
import sys
from playwright.sync_api import sync_playwright

port, shot = sys.argv[1], sys.argv[2]
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"http://127.0.0.1:{port}/")
    page.get_by_text("Upload a photo, take one with the camera").wait_for(timeout=120_000)
    page.get_by_text("Validation accuracy").wait_for(timeout=120_000)  # the shipped model loaded
    page.screenshot(path=shot)
    assert "Traceback" not in page.locator("body").inner_text()
    browser.close()
print(f"the app of the fresh clone answered on port {port}; screenshot {shot}")
EOF
