#!/bin/bash
set -u
export PYTHONUNBUFFERED=1
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
python3 -m pip install -q --no-build-isolation --no-deps -e . > $OUT/build.txt 2>&1 || { tail -30 $OUT/build.txt; exit 1; }
echo "== built at $(elapsed) s"
python3 - > $OUT/startup.txt 2>&1 <<'PY'
import statistics, subprocess, sys, time
def timed(args, n=15):
    runs = []
    for _ in range(n):
        t = time.perf_counter(); subprocess.run(args, check=True); runs.append((time.perf_counter() - t) * 1e3)
    return f"median {statistics.median(runs):.1f} ms ({min(runs):.1f}-{max(runs):.1f}, {n} runs)"
print("python3 -c pass:", timed([sys.executable, "-c", "pass"]))
print("python3 -S -c pass:", timed([sys.executable, "-S", "-c", "pass"]))
print("python3 -I -S -c pass:", timed([sys.executable, "-I", "-S", "-c", "pass"]))
print("python3 -c 'import fastray':", timed([sys.executable, "-c", "import fastray"]))
import site; print("site-packages:", site.getsitepackages())
import glob; pth = [p for d in site.getsitepackages() for p in glob.glob(d + "/*.pth")]; print(len(pth), ".pth files:", [p.rsplit("/", 1)[1] for p in pth])
r = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True)
lines = sorted(r.stderr.splitlines()[1:], key=lambda l: -int(l.split("|")[1]))[:12]
print("slowest imports of an empty interpreter (cumulative µs):"); print("\n".join(lines))
PY
cat $OUT/startup.txt
echo "== startup done at $(elapsed) s"
timeout 150 python3 -m fastray bench --tables actors threads --json $OUT/actors.json 2>&1 | grep -v "^\[" > $OUT/actors.txt; cat $OUT/actors.txt
echo "== tables done at $(elapsed) s"
timeout 90 python3 benches/actor_scaling.py > $OUT/scaling.txt 2>&1; cat $OUT/scaling.txt
echo "== all done at $(elapsed) s"
