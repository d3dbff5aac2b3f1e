"""The audit on Ray Data gives the plain loop's report: a local Ray with two scoring actors, and a
real two-node cluster (ray.cluster_utils.Cluster, both nodes on 127.0.0.1) joined by address."""

from pathlib import Path

import pytest

from app.audit import AuditParams, run_audit
from app.settings import Settings
from tests.audit.conftest import MODEL
from tests.audit.helpers import assert_same_report

pytestmark = pytest.mark.slow


def _params(**values: object) -> AuditParams:
    defaults: dict[str, object] = {
        "data": "shapes:24",
        "model": MODEL,
        "methods": ["grad_cam"],
        "shard_size": 8,
        "batch_size": 4,
        "sanity_images": 0,
    }
    return AuditParams.model_validate(defaults | values)


@pytest.fixture(scope="module")
def plain(audit_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_audit(_params(engine="plain"), audit_settings, tmp_path_factory.mktemp("plain"))


def test_local_ray_gives_the_plain_loops_report(
    plain: dict, audit_settings: Settings, tmp_path: Path
) -> None:
    import ray

    report = run_audit(_params(engine="ray", workers=2), audit_settings, tmp_path)
    assert not ray.is_initialized()  # the local Ray it started is shut down
    assert report["provenance"]["engine"] == "ray data"
    assert report["provenance"]["workers"] == 2
    assert_same_report(plain, report)


def test_two_node_cluster_gives_the_same_report(
    plain: dict, audit_settings: Settings, tmp_path: Path
) -> None:
    import ray
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 2, "node_ip_address": "127.0.0.1", "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=node)
    try:
        cluster.add_node(num_cpus=2, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        params = _params(engine="ray", workers=2, ray_address=cluster.address)
        report = run_audit(params, audit_settings, tmp_path)
        assert not ray.is_initialized()
        assert report["provenance"]["ray_address"] == cluster.address
        assert_same_report(plain, report)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
