"""GET /metrics without a switchboard (a web-only process): HTTP requests by route, request ids,
and the shipped dashboard and alert rules naming only metrics that exist."""

from __future__ import annotations

import dataclasses
import json
import logging
import re

import pytest
import yaml

from callcenter import monitoring
from callcenter.app import create_app
from callcenter.config import ConfigError, Settings
from tests.metrics import TOKEN, scrape, value


@pytest.fixture
def client(settings, database):
    app = create_app(dataclasses.replace(settings, metrics_token=TOKEN), database)
    return app.test_client()


def test_requests_are_counted_by_url_rule_not_by_path(client, admin):
    for call_id in ("A1", "B2", "C3"):
        client.get(f"/api/calls/{call_id}")
    client.get("/no/such/page/x1")
    client.get("/no/such/page/x2")
    client.open("/healthz", method="BREW")
    found = scrape(client)
    assert value(found, "callcenter_http_requests_total", route="/api/calls/<call_id>",
                 method="GET", status="401") == 3
    assert value(found, "callcenter_http_requests_total", route="unmatched", method="GET",
                 status="404") == 2
    assert value(found, "callcenter_http_requests_total", route="unmatched", method="other",
                 status="405") == 1
    assert value(found, "callcenter_http_request_duration_seconds_count",
                 route="/api/calls/<call_id>", method="GET") == 3
    routes = {dict(labels).get("route") for name, labels in found
              if name == "callcenter_http_requests_total"}
    assert not any("A1" in r or "x1" in r for r in routes)


def test_a_web_only_process_serves_its_own_metrics(client):
    found = scrape(client)
    assert value(found, "callcenter_live_sockets") == 0
    assert value(found, "process_resident_memory_bytes") > 0
    assert value(found, "callcenter_esl_connected") is None


def test_every_answer_has_a_request_id_and_logs_carry_it(client, auth, admin):
    from callcenter.log import REQUEST_ID

    seen = []

    class Note(logging.Handler):
        def emit(self, record):
            seen.append(REQUEST_ID.get())

    handler = Note()
    logging.getLogger("callcenter").addHandler(handler)
    try:
        reply = auth.login("nobody", "wrong")     # logged as a WARNING
    finally:
        logging.getLogger("callcenter").removeHandler(handler)
    given = reply.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{16}", given)
    assert given in seen, "a record logged while serving carries the request's id"
    other = client.get("/healthz").headers["X-Request-Id"]
    assert other != given
    proxied = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a9c21"})
    assert proxied.headers["X-Request-Id"] == "lb-7f3a9c21"
    forged = client.get("/healthz", headers={"X-Request-Id": "<script>alert(1)</script>"})
    assert re.fullmatch(r"[0-9a-f]{16}", forged.headers["X-Request-Id"])
    assert REQUEST_ID.get() is None, "no id outside a request"


@pytest.mark.parametrize("env,message", [
    ({"CALLCENTER_LOG_FORMAT": "xml"}, "CALLCENTER_LOG_FORMAT"),
    ({"CALLCENTER_METRICS_TOKEN": "short"}, "CALLCENTER_METRICS_TOKEN is too short"),
])
def test_bad_settings_are_refused_naming_them(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path), **env})


def test_json_logs_and_the_token_are_settings(tmp_path):
    settings = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path),
                                  "CALLCENTER_LOG_FORMAT": "JSON",
                                  "CALLCENTER_METRICS_TOKEN": TOKEN})
    assert (settings.log_format, settings.metrics_token) == ("json", TOKEN)
    default = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path)})
    assert (default.log_format, default.metrics_token) == ("text", None)


def declared(text: str) -> set[str]:
    """Every sample name an exposition declares, those of a family with no sample yet too (a
    labelled metric before its first labels, such as a route's latency before any request)."""
    from prometheus_client.parser import text_string_to_metric_families

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def used_metric_names() -> dict[str, set[str]]:
    """{file: metric names} the shipped dashboard's and alert rules' expressions use."""
    name = re.compile(r"\b(?:callcenter|process)_[a-z0-9_]+\b")
    dashboard = json.loads(monitoring.DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"]
             for target in panel.get("targets", ())]
    exprs += [variable["query"] for variable in dashboard["templating"]["list"]
              if variable["type"] == "query"]
    rules = yaml.safe_load(monitoring.ALERTS.read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    return {"dashboard.json": {n for e in exprs for n in name.findall(e)},
            "alerts.yml": {n for rule in alerts for n in name.findall(rule["expr"])}}


def test_the_alert_rules_are_well_formed_and_cover_what_ops_must_hear():
    rules = yaml.safe_load(monitoring.ALERTS.read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    for rule in alerts:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["annotations"]["summary"]
    used = used_metric_names()["alerts.yml"]
    for watched in ("callcenter_esl_connected", "callcenter_store_failing",
                    "callcenter_store_backlog", "callcenter_queue_longest_wait_seconds",
                    "callcenter_auditor_repairs_total", "callcenter_softphone_drops_total"):
        assert watched in used


def test_prometheus_accepts_the_alert_rules():
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian's prometheus package has it)")
    checked = subprocess.run([promtool, "check", "rules", str(monitoring.ALERTS)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_a_running_controller_serves_every_metric_the_dashboard_and_alerts_use(env, settings):
    """`callcenter serve` with JSON logs and a token, callers arriving in the built-in
    simulator: every log line is a JSON object, a caller's carries its call id, and /metrics
    has every name the shipped files use."""
    import urllib.error
    import urllib.request

    from callcenter import db as dbmod
    from tests.metrics import samples
    from tests.process import ServerProcess

    dbmod.upgrade(settings.database_url)
    server = ServerProcess(["serve"], {**env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0",
                                       "CALLCENTER_LOG_FORMAT": "json",
                                       "CALLCENTER_METRICS_TOKEN": TOKEN,
                                       "CALLCENTER_SIM_CALLERS": "20"})
    try:
        base = server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        entered = json.loads(server.wait_for(r'^\{.*"message": "caller .* entered queue').string)
        assert entered["call_id"] and entered["logger"].startswith("callcenter.")
        request = urllib.request.Request(base + "/metrics",     # noqa: S310 - loopback
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as reply:   # noqa: S310 - loopback
            text = reply.read().decode()
            request_id = reply.headers["X-Request-Id"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + "/metrics", timeout=10)    # noqa: S310 - loopback
        assert refused.value.code == 401
    finally:
        assert server.stop() == 0
    found = samples(text)
    assert value(found, "callcenter_esl_connected") == 1
    assert value(found, "callcenter_queue_callers_total", result="entered") >= 1
    exposed = declared(text)
    for source, names in used_metric_names().items():
        assert names, source
        assert names <= exposed, f"{source} uses {sorted(names - exposed)}"
    logged = [line for line in server.output if not line.startswith("callcenter serving on")]
    assert logged and all(json.loads(line)["level"] for line in logged)
    assert request_id and len(request_id) == 16
