"""Start-up: when the multi-host runtime starts, and the platform a config needs."""

import jax
import pytest
from jax._src.clusters import cloud_tpu_cluster, k8s_cluster

from configs import tiny
from genfill_jax import errors, parallel

_CLUSTER_VARIABLES = (
    "SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID",
    "OMPI_MCA_orte_hnp_uri", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_LOCAL_RANK", "TPU_WORKER_HOSTNAMES", "TPU_PROCESS_ADDRESSES",
    "TPU_WORKER_ID", "TPU_SKIP_MDS_QUERY", "KUBERNETES_SERVICE_HOST",
    "MEGASCALE_NUM_SLICES", "MEGASCALE_SLICE_ID")


@pytest.fixture
def bare_machine(monkeypatch):
  """No cluster variables, not a Cloud TPU VM; records jax.distributed.initialize calls."""
  for name in _CLUSTER_VARIABLES:
    monkeypatch.delenv(name, raising=False)
  monkeypatch.setattr(cloud_tpu_cluster, "running_in_cloud_tpu_vm", False)
  calls = []
  monkeypatch.setattr(jax.distributed, "initialize", lambda **kwargs: calls.append(kwargs))
  return calls


def _started(calls) -> bool:
  parallel.maybe_initialize_distributed(tiny.get_config())
  return bool(calls)


def _cloud_tpu_vm(monkeypatch, metadata: dict[str, str]) -> None:
  monkeypatch.setattr(cloud_tpu_cluster, "running_in_cloud_tpu_vm", True)

  def get_metadata(key):
    return (metadata[key], 200) if key in metadata else ("", 404)
  monkeypatch.setattr(cloud_tpu_cluster, "get_metadata", get_metadata)


def test_one_machine_without_a_cluster_starts_nothing(bare_machine):
  assert parallel.multi_process_cluster() is None
  assert not _started(bare_machine)


def test_explicit_flags_start_the_runtime_with_them(bare_machine):
  config = tiny.get_config()
  config.distributed.coordinator_address = "10.0.0.1:1234"
  config.distributed.num_processes = 2
  config.distributed.process_id = 1
  parallel.maybe_initialize_distributed(config)
  assert bare_machine == [dict(coordinator_address="10.0.0.1:1234", num_processes=2,
                               process_id=1)]


def test_a_multi_host_cloud_tpu_vm_is_found_from_its_metadata(bare_machine, monkeypatch):
  # `gcloud ... ssh --worker=all` sets no TPU_WORKER_HOSTNAMES: only the metadata server knows.
  _cloud_tpu_vm(monkeypatch, {"agent-worker-number": "2", "tpu-env": "",
                              "worker-network-endpoints": "10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4"})
  assert parallel.multi_process_cluster() is cloud_tpu_cluster.GceTpuCluster
  assert _started(bare_machine)
  assert bare_machine == [{}]  # JAX's own detection fills in address, count and id


def test_a_single_host_cloud_tpu_vm_starts_nothing(bare_machine, monkeypatch):
  _cloud_tpu_vm(monkeypatch, {"agent-worker-number": "0", "tpu-env": "",
                              "worker-network-endpoints": "10.0.0.1"})
  assert parallel.multi_process_cluster() is None
  assert not _started(bare_machine)


def test_a_gke_tpu_slice_is_found_from_its_worker_hostnames(bare_machine, monkeypatch):
  _cloud_tpu_vm(monkeypatch, {})  # GKE nodes have no agent-worker-number
  monkeypatch.setenv("TPU_WORKER_HOSTNAMES", "host-0,host-1")
  monkeypatch.setenv("TPU_WORKER_ID", "1")
  monkeypatch.setenv("MEGASCALE_NUM_SLICES", "1")
  assert parallel.multi_process_cluster() is cloud_tpu_cluster.GkeTpuCluster
  assert _started(bare_machine)


@pytest.mark.parametrize("tasks, started", [("4", True), ("1", False)])
def test_slurm_starts_the_runtime_only_with_several_tasks(bare_machine, monkeypatch, tasks,
                                                          started):
  for name, value in (("SLURM_JOB_ID", "7"), ("SLURM_STEP_NODELIST", "node[1-4]"),
                      ("SLURM_NTASKS", tasks), ("SLURM_PROCID", "0"), ("SLURM_LOCALID", "0")):
    monkeypatch.setenv(name, value)
  assert (parallel.multi_process_cluster() is not None) is started
  assert _started(bare_machine) is started


def test_open_mpi_with_two_ranks_starts_the_runtime(bare_machine, monkeypatch):
  monkeypatch.setenv("OMPI_MCA_orte_hnp_uri", "1531576320.0;tcp://10.96.0.1:34911")
  monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
  monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "0")
  monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "0")
  assert parallel.multi_process_cluster().__name__ == "OmpiCluster"
  assert _started(bare_machine)


def test_a_kubernetes_job_with_several_pods_starts_the_runtime(bare_machine, monkeypatch):
  # The real check needs the `kubernetes` package and an API server.
  monkeypatch.setattr(k8s_cluster.K8sCluster, "is_env_present", classmethod(lambda cls: True))
  monkeypatch.setattr(k8s_cluster.K8sCluster, "get_process_count", classmethod(lambda cls: 3))
  assert parallel.multi_process_cluster() is k8s_cluster.K8sCluster
  assert _started(bare_machine)


def test_a_config_for_another_platform_stops_with_one_line():
  config = tiny.get_config()
  config.platform = "tpu"
  with pytest.raises(errors.UserError, match=r"config.platform='tpu' but JAX's default "
                     r"backend is 'cpu'") as raised:
    parallel.check_platform(config)
  assert "\n" not in str(raised.value)
  config.platform = "cpu"
  parallel.check_platform(config)  # the platform it runs on: no error
  config.platform = ""
  parallel.check_platform(config)


def test_the_runtime_line_names_backend_devices_and_processes():
  line = parallel.describe_runtime()
  assert line == "runtime: cpu backend, 8 x cpu (8 local), process 0 of 1"
