"""Where an attacker would look for the NIK key: event logs, the Spark UI's REST API, driver and executor
logs, MLflow params and tags, pipeline_runs and the Delta logs. Searched for the key and its two HMAC pads
(the form in which an HMAC written as native expressions carries its key), raw, hex and base64.

Used by tests/test_console.py (a local `dtks run` with the event log on) and tests/test_cluster.py (the
standalone cluster, with the history server's UI).
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
from pathlib import Path


def pads(key: bytes) -> tuple[bytes, bytes]:
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def needles(key: bytes) -> dict[str, bytes]:
    """Every form in which the key material could be written down."""
    inner, outer = pads(key)
    found = {}
    for name, secret in (("key", key), ("inner pad", inner), ("outer pad", outer)):
        found[f"{name} raw"] = secret
        found[f"{name} hex"] = secret.hex().encode()
        found[f"{name} HEX"] = secret.hex().upper().encode()
        found[f"{name} base64"] = base64.b64encode(secret)
        found[f"{name} base64url"] = base64.urlsafe_b64encode(secret)
    return found


def scan(blobs: dict[str, bytes], key: bytes) -> list[str]:
    """`where: what` for every needle found in a blob."""
    return [f"{where}: {what}" for where, blob in blobs.items() for what, needle in needles(key).items()
            if needle in blob]


def files(root: Path, label: str) -> dict[str, bytes]:
    return {f"{label}/{p.relative_to(root)}": p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def event_logs(spark, folder: Path) -> dict[str, bytes]:
    """Every event log under `folder`, decoded as the history server reads it (zstd by default, rolling)."""
    jvm = spark.sparkContext._jvm
    reader = jvm.org.apache.spark.deploy.history.EventLogFileReader
    found = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith((".", "appstatus")):
            path = jvm.org.apache.hadoop.fs.Path(p.as_uri())
            stream = reader.openEventLog(path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()))
            try:
                data = jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
                found[f"event log/{p.relative_to(folder)}"] = bytes(data)
            finally:
                stream.close()
    return found


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.read()


def ui_dump(base: str) -> dict[str, bytes]:
    """The UI's REST API as a reader sees it: every application's SQL plans, jobs, stages, environment."""
    api = f"{base.rstrip('/')}/api/v1"
    found = {"ui/applications": get(f"{api}/applications")}
    for app in json.loads(found["ui/applications"]):
        app_id = app["id"]
        for page in ("sql?details=true&planDescription=true&offset=0&length=100000", "jobs", "stages?details=true",
                     "environment", "executors"):
            found[f"ui/{app_id}/{page.split('?')[0]}"] = get(f"{api}/applications/{app_id}/{page}")
    return found


def history_dump(event_dir: Path, work: Path) -> dict[str, bytes]:
    """The UI of finished applications, from the history server every event log reader runs: its REST API."""
    import os
    import socket
    import subprocess
    import time

    import pyspark

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    props = work / "history.properties"
    props.write_text(f"spark.history.fs.logDirectory={event_dir.as_uri()}\nspark.history.ui.port={port}\n"
                     "spark.history.fs.update.interval=1s\n")
    home = os.path.dirname(pyspark.__file__)
    env = os.environ | {"SPARK_HOME": home, "SPARK_LOCAL_IP": "127.0.0.1"}
    with open(work / "history.log", "w") as log:
        proc = subprocess.Popen([f"{home}/bin/spark-class", "org.apache.spark.deploy.history.HistoryServer",
                                 "--properties-file", str(props)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if json.loads(get(f"{base}/api/v1/applications")):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"history server gave no application: {(work / 'history.log').read_text()[-2000:]}")
            time.sleep(1)
        return ui_dump(base)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def mlflow_dump(tracking_uri: str) -> dict[str, bytes]:
    """Every run's params and tags, and every registered model version's tags, as JSON."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    out = []
    for exp in client.search_experiments():
        out.append({"experiment": exp.name, "tags": exp.tags})
        for r in client.search_runs([exp.experiment_id], max_results=10000):
            out.append({"run": r.info.run_id, "params": r.data.params, "tags": r.data.tags})
    for model in client.search_registered_models():
        out.append({"model": model.name, "tags": model.tags, "description": model.description})
        for v in client.search_model_versions(f"name = '{model.name}'"):
            out.append({"version": v.version, "tags": v.tags, "description": v.description, "source": v.source})
    return {"mlflow": json.dumps(out, default=str).encode()}


def table_dump(spark, config, name: str) -> dict[str, bytes]:
    from runtime import tables

    rows = [json.dumps(r.asDict(recursive=True), default=str) for r in tables.read(spark, config, name).collect()]
    return {name: "\n".join(rows).encode()}
