"""wrk for `scripts/bench_api`: make sure it is installed, run it, and read its report."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

# POSTs small configmaps with names unique within the run (`<prefix>-<n>`, one wrk thread so
# the counter is never shared), and counts 201s against every other status in response().
CREATE_LUA = """\
counter = 0
created = 0
other = 0
local prefix = "bench"
local target = "/"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1]
  target = args[2]
end

function request()
  counter = counter + 1
  local body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"' .. prefix ..
    '-' .. counter .. '","labels":{"bench-run":"' .. prefix .. '"}},"data":{"key":"value"}}'
  return wrk.format("POST", target, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created")
    o = o + thread:get("other")
  end
  io.write(string.format("BENCH created=%d other=%d\\n", c, o))
end
"""


def ensure_wrk() -> None:
    """Install Debian's wrk with apt when missing, as scripts/test does for its tools."""
    if shutil.which("wrk"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
                   check=True, env=env)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is still missing after apt-get install wrk")


def version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return out.split("[")[0].strip() or "wrk"


def run(url: str, seconds: int, connections: int, script: Path | None = None,
        script_args: tuple[str, ...] = ()) -> dict[str, float]:
    """One `wrk -t1` run; req/s, p50/p99 in ms, request count, errors (socket + non-2xx)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                         check=True).stdout
    return parse(out)


def parse(out: str) -> dict[str, float]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if rps is None or total is None:
        raise RuntimeError(f"cannot read wrk's report:\n{out}")
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result = {"rps": float(rps.group(1)), "requests": int(total.group(1)),
              "p50": _ms(out, "50%"), "p99": _ms(out, "99%"),
              "socket_errors": socket_errors,
              "non2xx": int(non2xx.group(1)) if non2xx else 0}
    counted = re.search(r"BENCH created=(\d+) other=(\d+)", out)
    if counted:
        result["created"] = int(counted.group(1))
        result["other"] = int(counted.group(2))
    result["errors"] = socket_errors + result["non2xx"]
    return result


def _ms(out: str, pct: str) -> float:
    match = re.search(rf"^\s+{re.escape(pct)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
