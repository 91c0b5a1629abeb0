#!/usr/bin/env python3
"""The runbook's outage sequence against one picket binary; counts the pages.

Usage: outage_pages.py PICKET_BIN before|after

Loopback only: a private redis-server, a private dockerd (busybox httpd containers), an
in-process flapping HTTP service and webhook receivers. The sequence, compressed:
Redis down 20 s under three dependents; a container crash that a restart fixes; a
service flapping for 30 s then healthy; a container whose restart fails. A page is any
notification to the on-call or managers webhook that is not "resolved" / "flapping
stopped". `before` writes the config the old picket accepts (no recover.env, no
after_failure), as the runbook trial had it."""
import http.server, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request

BIN, MODE = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp(prefix="pko", dir="/tmp")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

received = {"hook": [], "boss": []}
flapping = {"on": False, "n": 0}

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        flapping["n"] += 1
        bad = flapping["on"] and flapping["n"] % 2 == 0
        self.send_response(503 if bad else 200); self.end_headers(); self.wfile.write(b"x")
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        received[self.path.strip("/")].append((time.time(), body["check"], body["kind"]))
        self.send_response(202); self.end_headers()

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{srv.server_address[1]}"

# Redis
rport = free_port()
rconf = os.path.join(tmp, "redis.conf")
open(rconf, "w").write(f"bind 127.0.0.1\nport {rport}\nsave \"\"\ndir {tmp}\n")
redis = subprocess.Popen(["redis-server", rconf], stdout=subprocess.DEVNULL)
# Docker
sock = f"unix://{tmp}/d.sock"
dockerd = subprocess.Popen(["dockerd", "--host", sock, "--data-root", f"{tmp}/data", "--exec-root", f"{tmp}/exec",
    "--pidfile", f"{tmp}/d.pid", "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def docker(*a, check=True):
    return subprocess.run(["docker", "-H", sock, *a], check=check, capture_output=True)
for _ in range(600):
    if docker("version", check=False).returncode == 0: break
    time.sleep(0.1)
root = os.path.join(tmp, "rootfs"); os.makedirs(root + "/bin"); os.makedirs(root + "/www")
shutil.copy("/bin/busybox", root + "/bin/busybox"); os.symlink("busybox", root + "/bin/sh")
open(root + "/www/health", "w").write("ok\n")
subprocess.run(["tar", "-C", root, "-cf", f"{tmp}/r.tar", "."], check=True)
docker("import", f"{tmp}/r.tar", "bb:1")
wport, gport = free_port(), free_port()
docker("run", "-d", "--name", "web", "--network", "host", "bb:1", "/bin/busybox", "httpd", "-f", "-p", f"127.0.0.1:{wport}", "-h", "/www")

def recover(container):
    r = f'run = ["docker", "restart", "{container}"], recheck_after = "2s", max = 2, within = "1h", timeout = "30s"'
    if MODE == "after":
        r += f', env = {{ DOCKER_HOST = "{sock}" }}, notify = "after_failure"'
    return "recover = { " + r + " }\n"

cfg = f'''[defaults]
every = "1s"

[notify.hook]
kind = "webhook"
url = "{base}/hook"

[notify.boss]
kind = "webhook"
url = "{base}/boss"

[route.critical]
notify = ["hook"]
escalate = {{ after = "15s", to = "managers" }}

[route.managers]
notify = ["boss"]

[[check]]
name = "redis"
plugin = "redis"
target = "redis://127.0.0.1:{rport}"
every = "60s"
retry_every = "1s"
'''
for n in ["queue", "worker-jobs", "api"]:
    cfg += f'\n[[check]]\nname = "{n}"\nplugin = "tcp"\ntarget = "127.0.0.1:{rport}"\ndepends_on = ["redis"]\n'
cfg += f'\n[[check]]\nname = "web"\nplugin = "http"\ntarget = "http://127.0.0.1:{wport}/health"\n' + recover("web")
cfg += f'\n[[check]]\nname = "flappy"\nplugin = "http"\ntarget = "{base}/health"\n'
cfg += f'\n[[check]]\nname = "jobs"\nplugin = "http"\ntarget = "http://127.0.0.1:{gport}/health"\n' + recover("jobs-container")
open(f"{tmp}/checks.toml", "w").write(cfg)

d = subprocess.Popen([BIN, "run", "-c", f"{tmp}/checks.toml", "--store", f"{tmp}/p.db", "--listen", "127.0.0.1:0"],
    stderr=subprocess.PIPE, text=True, env=dict(os.environ, RUST_LOG="warn", PICKET_CACHE_DIR=f"{tmp}/cache"))
for line in d.stderr:
    if "API on" in line: break
    print("daemon:", line.rstrip(), file=sys.stderr)
else:
    redis.kill(); dockerd.terminate(); dockerd.wait()
    sys.exit(f"picket run did not start (exit {d.wait()})")
threading.Thread(target=lambda: [None for _ in d.stderr], daemon=True).start()
time.sleep(5)
# The sequence.
redis.kill(); redis.wait(); time.sleep(20)
redis = subprocess.Popen(["redis-server", rconf], stdout=subprocess.DEVNULL)
docker("kill", "web"); time.sleep(10)
flapping["on"] = True; time.sleep(30); flapping["on"] = False
time.sleep(40)  # the jobs container never comes back; everything else settles
d.send_signal(signal.SIGTERM); d.wait(timeout=60)
redis.kill(); docker("rm", "-f", "web", check=False); dockerd.terminate(); dockerd.wait(timeout=60)
subprocess.run(f"grep {tmp} /proc/self/mounts | cut -d' ' -f2 | xargs -r -n1 umount -l", shell=True)
shutil.rmtree(tmp, ignore_errors=True)

pages = [(c, k, w) for w in ("hook", "boss") for (_, c, k) in received[w] if k not in ("resolved", "flapping-stopped")]
by = {}
for c, k, w in pages:
    by.setdefault(c, []).append(f"{k}@{w}")
print(f"{MODE}: {len(pages)} pages")
for c in ["redis", "queue", "worker-jobs", "api", "web", "flappy", "jobs"]:
    print(f"  {c:12} {len(by.get(c, [])):2}  {', '.join(by.get(c, []))}")
