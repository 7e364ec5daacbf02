"""serving/deploy/: each file parsed against its consumer's real schema, and the files agree.

A misspelled field in these files fails only on a cluster, and sometimes not even there: the
API server prunes unknown fields of a custom resource, and TF Serving ignores a misspelled
flag after printing "unknown argument". So every file is parsed here as strictly as its
strictest consumer parses it, and the tests check that the pieces point at each other (flags
at mounted files, probes at ports, the Service at the pods, KServe at the same model).

The module only reads files: it imports nothing from the project.
"""

from __future__ import annotations

import copy
import difflib
import importlib.metadata
import json
import os
import re
import types
from typing import Any, Dict, List

import kubernetes.client
import pytest
import yaml
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

from serving.contract import MAX_BATCH

DEPLOY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "serving", "deploy")
MODEL_NAME = "movielens"
GCS_BASE_PATH = "gs://BUCKET/serving/movielens"

# --- TF Serving protos the pip package does not ship --------------------------------------
# tensorflow-serving-api 2.16.1 ships the pb2 modules of tensorflow_serving/apis and of four
# config protos (model_server_config, file_system_storage_path_source, logging_config,
# log_collector_config). BatchingParameters and MonitoringConfig are in no installed package,
# so their messages are quoted verbatim (comments left out) from TF Serving 2.16.1:
#   https://github.com/tensorflow/serving/blob/2.16.1/tensorflow_serving/servables/tensorflow/session_bundle_config.proto
#   https://github.com/tensorflow/serving/blob/2.16.1/tensorflow_serving/config/monitoring_config.proto
# and turned into descriptors below, so protobuf's own text_format parser checks the files:
# unknown fields, wrong types and a bare number where a wrapper message is due all fail.
BATCHING_PARAMETERS_PROTO = """
message BatchingParameters {
  google.protobuf.Int64Value max_batch_size = 1;
  google.protobuf.Int64Value batch_timeout_micros = 2;
  google.protobuf.Int64Value max_enqueued_batches = 3;
  google.protobuf.Int64Value num_batch_threads = 4;
  google.protobuf.StringValue thread_pool_name = 5;
  google.protobuf.BoolValue enable_large_batch_splitting = 8;
  google.protobuf.Int64Value max_execution_batch_size = 9;
  repeated int64 allowed_batch_sizes = 6;
  bool pad_variable_length_inputs = 7;
}
"""
MONITORING_CONFIG_PROTO = """
message PrometheusConfig {
  bool enable = 1;
  string path = 2;
}
message MonitoringConfig {
  PrometheusConfig prometheus_config = 1;
}
"""
_MESSAGE = re.compile(r"message\s+(\w+)\s*\{(.*?)\n\}", re.S)
_FIELD = re.compile(r"^\s*(repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*(\d+);\s*$", re.M)
_SCALAR_TYPES = {"bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
                 "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                 "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING}


def quoted_message(proto_text: str, name: str):
    """The message class `tensorflow.serving.<name>` of a quoted proto3 snippet."""
    pool = descriptor_pool.DescriptorPool()  # private: never clashes with a real definition
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    quoted = descriptor_pb2.FileDescriptorProto(
        name=f"quoted/{name}.proto", package="tensorflow.serving", syntax="proto3",
        dependency=[wrappers.name])
    for message_name, body in _MESSAGE.findall(proto_text):
        fields = _FIELD.findall(body)
        assert len(fields) == body.count(";"), f"unparsed field line in quoted {message_name}"
        message = quoted.message_type.add(name=message_name)
        for repeated, type_name, field_name, number in fields:
            field = message.field.add(name=field_name, number=int(number), label=(
                descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED if repeated
                else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL))
            if type_name in _SCALAR_TYPES:
                field.type = _SCALAR_TYPES[type_name]
            else:
                field.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                field.type_name = "." + (type_name if "." in type_name
                                         else f"tensorflow.serving.{type_name}")
    pool.Add(quoted)
    descriptor = pool.FindMessageTypeByName(f"tensorflow.serving.{name}")
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.21
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


BatchingParameters = quoted_message(BATCHING_PARAMETERS_PROTO, "BatchingParameters")
MonitoringConfig = quoted_message(MONITORING_CONFIG_PROTO, "MonitoringConfig")

# Every flag of tensorflow_model_server 2.16.1, from
# https://github.com/tensorflow/serving/blob/2.16.1/tensorflow_serving/model_servers/main.cc
TF_SERVING_FLAGS = frozenset("""
port grpc_socket_path rest_api_port rest_api_num_threads rest_api_timeout_in_ms
rest_api_enable_cors_support enable_batching allow_version_labels_for_unavailable_models
batching_parameters_file enable_per_model_batching_parameters model_config_file
model_config_file_poll_wait_seconds model_name model_base_path num_load_threads
num_unload_threads max_num_load_retries load_retry_interval_micros
file_system_poll_wait_seconds flush_filesystem_caches tensorflow_session_parallelism
tensorflow_session_config_file tensorflow_intra_op_parallelism tensorflow_inter_op_parallelism
use_alts_credentials ssl_config_file platform_config_file per_process_gpu_memory_fraction
saved_model_tags grpc_channel_arguments grpc_max_threads enable_model_warmup
num_request_iterations_for_warmup version monitoring_config_file
remove_unused_fields_from_bundle_metagraph prefer_tflite_model num_tflite_pools
num_tflite_interpreters_per_pool enable_signature_method_name_check xla_cpu_compilation_enabled
enable_profiler thread_pool_factory_config_file mixed_precision skip_initialize_tpu
enable_grpc_healthcheck_service
""".split())


def read(name: str) -> str:
    with open(os.path.join(DEPLOY_DIR, name), encoding="utf-8") as f:
        return f.read()


def parse_proto(text: str, message_class, source: str):
    try:
        return text_format.Parse(text, message_class())
    except text_format.ParseError as err:
        raise AssertionError(f"{source}: {err}") from err


# --- A strict loader for the kubernetes client's models -----------------------------------
class StrictLoadError(ValueError):
    """A manifest field the schema does not have, or a value of the wrong type."""


_SCALARS = {"str": str, "int": int, "bool": bool, "float": (int, float), "datetime": str}


def strict_load(data: Any, type_name: str, where: str) -> Any:
    """Builds `type_name` (an openapi type of the kubernetes client: 'V1Container',
    'list[V1Volume]', 'dict(str, str)', 'str', ...) from YAML data, raising StrictLoadError on
    an unknown key or a wrong type. (`ApiClient.deserialize` silently drops unknown keys.)"""
    if data is None:
        return None
    if type_name.startswith("list["):
        if not isinstance(data, list):
            raise StrictLoadError(f"{where}: expected a list, found {data!r}")
        return [strict_load(item, type_name[5:-1], f"{where}[{i}]") for i, item in enumerate(data)]
    if type_name.startswith("dict("):
        value_type = type_name[type_name.index(",") + 1:-1].strip()
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            raise StrictLoadError(f"{where}: expected a map with string keys, found {data!r}")
        return {k: strict_load(v, value_type, f"{where}.{k}") for k, v in data.items()}
    if type_name == "object":  # IntOrString (ports) and free-form fields
        return data
    if type_name in _SCALARS:
        if isinstance(data, bool) != (type_name == "bool") or not isinstance(
                data, _SCALARS[type_name]):
            raise StrictLoadError(f"{where}: expected {type_name}, found {data!r}")
        return data
    model = getattr(kubernetes.client, type_name)
    if not isinstance(data, dict):
        raise StrictLoadError(f"{where}: expected a {type_name} map, found {data!r}")
    fields = {key: (attr, model.openapi_types[attr]) for attr, key in model.attribute_map.items()}
    check_keys(data, fields, where, type_name)
    kwargs = {fields[k][0]: strict_load(v, fields[k][1], f"{where}.{k}") for k, v in data.items()}
    try:
        return model(**kwargs)
    except ValueError as err:  # the client's own checks, e.g. a required field left out
        raise StrictLoadError(f"{where}: {err}") from err


def check_keys(data: Dict[str, Any], known, where: str, schema: str) -> None:
    for key in sorted(set(data) - set(known)):
        lowered = {name.lower(): name for name in known}
        close = difflib.get_close_matches(key.lower(), lowered, n=1)
        hint = (f"did you mean '{lowered[close[0]]}'?" if close
                else f"its fields are {sorted(known)}")
        raise StrictLoadError(f"{where}: unknown field '{key}' for {schema}; {hint}")


KUBERNETES_KINDS = {("v1", "ServiceAccount"): "V1ServiceAccount",
                    ("v1", "ConfigMap"): "V1ConfigMap",
                    ("apps/v1", "Deployment"): "V1Deployment",
                    ("v1", "Service"): "V1Service"}


def load_manifest(doc: Dict[str, Any], source: str):
    kind = (doc.get("apiVersion"), doc.get("kind"))
    if kind not in KUBERNETES_KINDS:
        raise StrictLoadError(f"{source}: no client model for apiVersion/kind {kind}")
    where = f"{source} ({doc['kind']} {doc.get('metadata', {}).get('name')})"
    return strict_load(doc, KUBERNETES_KINDS[kind], where)


def kubernetes_documents() -> List[Dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(read("kubernetes.yaml")) if doc]


@pytest.fixture(scope="module")
def objects() -> Dict[str, Any]:
    """kind -> the strictly loaded client model (one object of each kind)."""
    loaded = [load_manifest(doc, "kubernetes.yaml") for doc in kubernetes_documents()]
    by_kind = {obj.kind: obj for obj in loaded}
    assert len(by_kind) == len(loaded), "one object of each kind expected"
    return by_kind


def container(objects):
    (serving,) = objects["Deployment"].spec.template.spec.containers
    return serving


def flags(serving) -> Dict[str, str]:
    """--name=value args as {name: value}; a bare --name as {name: ''}."""
    parsed = {}
    for arg in serving.args:
        assert arg.startswith("--"), f"not a flag: {arg}"
        name, _, value = arg[2:].partition("=")
        parsed[name] = value
    return parsed


def container_port(serving, port) -> int:
    """A probe's or Service's port (a number or a container port's name) as a number."""
    numbers = {p.name: p.container_port for p in serving.ports}
    assert port in numbers or port in numbers.values(), f"{port} is not a container port"
    return numbers.get(port, port)


# --- TF Serving config files ---------------------------------------------------------------
def test_models_config_serves_movielens_keeping_two_versions():
    """The name and layout the pusher writes, and the rollback policy the file promises."""
    config = parse_proto(read("models.config"), model_server_config_pb2.ModelServerConfig,
                         "models.config")
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == (
        MODEL_NAME, "/models/movielens", "tensorflow")
    policy = model.model_version_policy
    assert policy.WhichOneof("policy_choice") == "latest"
    assert policy.latest.num_versions == 2
    # A label must name an AVAILABLE version, which latest{2} cannot promise (see the file).
    assert not model.version_labels


def test_batching_config_is_valid_for_the_pod(objects):
    """Values TF Serving would refuse at load time, and a thread count that fits the pod."""
    batching = parse_proto(read("batching.config"), BatchingParameters, "batching.config")
    for field in ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches",
                  "num_batch_threads"):
        assert batching.HasField(field), f"batching.config: {field} unset (server default used)"
    # shared_batch_scheduler.h: with splitting, max_batch_size >= max_execution_batch_size.
    assert batching.enable_large_batch_splitting.value
    assert batching.max_execution_batch_size.value <= batching.max_batch_size.value
    assert batching.max_enqueued_batches.value > 0
    # One batch thread per core the pod may use.
    assert str(batching.num_batch_threads.value) == container(objects).resources.limits["cpu"]
    # The signatures' own limits (serving/contract.py): a batch TF Serving merges from small
    # requests is never refused by a signature, and a request a signature admits is admitted
    # by the batching layer.
    assert batching.max_execution_batch_size.value <= min(MAX_BATCH.values())
    assert batching.max_batch_size.value == max(MAX_BATCH.values())


def test_monitoring_config_enables_prometheus():
    monitoring = parse_proto(read("monitoring.config"), MonitoringConfig, "monitoring.config")
    assert monitoring.prometheus_config.enable
    assert monitoring.prometheus_config.path == "/monitoring/prometheus/metrics"


@pytest.mark.parametrize("message_class,text", [
    (model_server_config_pb2.ModelServerConfig,
     'model_config_list { config { name: "m" platform: "tensorflow" } }'),
    (BatchingParameters, "max_batch_sise { value: 8 }"),
    (BatchingParameters, "max_batch_size: 8"),  # a wrapper message, not a bare number
    (MonitoringConfig, "prometheus_config { enabled: true }"),
], ids=["models-platform", "batching-typo", "batching-bare-number", "monitoring-typo"])
def test_config_parsing_rejects_a_wrong_field(message_class, text):
    """The checks above can fail: a misspelled or mistyped field does not parse."""
    with pytest.raises(text_format.ParseError):
        text_format.Parse(text, message_class())


# --- kubernetes.yaml -----------------------------------------------------------------------
def test_kubernetes_documents_load_strictly(objects):
    """Every document is a known kind, and every field of it is in the client's schema."""
    assert set(objects) == {"ServiceAccount", "ConfigMap", "Deployment", "Service"}


def deployment_document() -> Dict[str, Any]:
    (deployment,) = [d for d in kubernetes_documents() if d["kind"] == "Deployment"]
    return copy.deepcopy(deployment)


def rename(mapping: Dict[str, Any], old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


@pytest.mark.parametrize("mutate,message", [
    (lambda c: rename(c, "readinessProbe", "readinesProbe"), "readinesProbe"),
    (lambda c: rename(c["resources"], "limits", "limit"), "limit"),
    (lambda c: c["ports"][1].update(containerPort="8501"), "containerPort"),
], ids=["misspelled-probe", "misspelled-limits", "port-as-string"])
def test_strict_loader_rejects_a_misspelled_or_mistyped_field(mutate, message):
    """The strict loader can fail, and names the field."""
    broken = deployment_document()
    mutate(broken["spec"]["template"]["spec"]["containers"][0])
    with pytest.raises(StrictLoadError, match=message):
        load_manifest(broken, "kubernetes.yaml")


def test_the_clients_own_deserializer_would_drop_a_misspelled_field():
    """Why the strict loader exists: ApiClient.deserialize accepts the typo silently."""
    broken = deployment_document()
    rename(broken["spec"]["template"]["spec"]["containers"][0], "readinessProbe", "readinesProbe")
    response = types.SimpleNamespace(data=json.dumps(broken))
    loaded = kubernetes.client.ApiClient().deserialize(response, "V1Deployment")
    assert loaded.spec.template.spec.containers[0].readiness_probe is None


def test_deployment_reads_its_config_files_from_the_configmap(objects):
    """Each file flag names a key of the ConfigMap under the directory it is mounted at, and
    every flag is a real tensorflow_model_server flag (a misspelled one is ignored there)."""
    serving, pod = container(objects), objects["Deployment"].spec.template.spec
    args = flags(serving)
    unknown = sorted(set(args) - TF_SERVING_FLAGS)
    assert not unknown, f"kubernetes.yaml: not tensorflow_model_server flags: {unknown}"
    # server.cc refuses --batching_parameters_file without --enable_batching.
    assert "enable_batching" in args
    config_map = objects["ConfigMap"]
    volumes = {v.name: v for v in pod.volumes}
    mounts = {m.mount_path: volumes[m.name] for m in serving.volume_mounts}
    for flag in ("model_config_file", "batching_parameters_file", "monitoring_config_file"):
        directory, file_name = os.path.split(args[flag])
        assert directory in mounts, f"--{flag}={args[flag]}: nothing mounted at {directory}"
        volume = mounts[directory]
        assert volume.config_map and volume.config_map.name == config_map.metadata.name
        assert not volume.config_map.items, "items would rename or hide keys"
        assert file_name in config_map.data, f"--{flag}: ConfigMap has no key {file_name}"


def test_configmap_holds_the_deploy_files(objects):
    """The cluster runs what serving/deploy/ documents: the same protos, base_path aside."""
    data = objects["ConfigMap"].data
    assert set(data) == {"models.config", "batching.config", "monitoring.config"}
    for name, message_class in [("batching.config", BatchingParameters),
                                ("monitoring.config", MonitoringConfig)]:
        assert parse_proto(data[name], message_class, f"ConfigMap {name}") == parse_proto(
            read(name), message_class, name), f"ConfigMap {name} differs from serving/deploy/"
    server_config = model_server_config_pb2.ModelServerConfig
    in_cluster = parse_proto(data["models.config"], server_config, "ConfigMap models.config")
    local = parse_proto(read("models.config"), server_config, "models.config")
    assert in_cluster.model_config_list.config[0].base_path == GCS_BASE_PATH
    local.model_config_list.config[0].base_path = GCS_BASE_PATH
    assert in_cluster == local, "ConfigMap models.config differs beyond base_path"


def test_probes_hit_the_servers_ports(objects):
    """Readiness asks the REST port for the model's status; liveness and startup knock on the
    gRPC port; both ports are the ones the flags open."""
    serving = container(objects)
    args = flags(serving)
    readiness = serving.readiness_probe.http_get
    assert readiness.path == f"/v1/models/{MODEL_NAME}"
    assert container_port(serving, readiness.port) == int(args["rest_api_port"]) == 8501
    for probe in (serving.liveness_probe, serving.startup_probe):
        assert container_port(serving, probe.tcp_socket.port) == int(args["port"]) == 8500
    assert {p.name: p.container_port for p in serving.ports} == {"grpc": 8500, "http": 8501}


def test_service_selects_the_deployment_pods_and_ports(objects):
    """A selector that matches no pod, or a targetPort no container has, serves nothing."""
    deployment, service = objects["Deployment"], objects["Service"]
    pod_labels = deployment.spec.template.metadata.labels
    for selector in (service.spec.selector, deployment.spec.selector.match_labels):
        assert selector and selector.items() <= pod_labels.items()
    serving = container(objects)
    assert {p.port: container_port(serving, p.target_port) for p in service.spec.ports} == {
        8500: 8500, 8501: 8501}
    # The pods read gs://BUCKET as the Google service account Workload Identity maps to.
    account = objects["ServiceAccount"].metadata
    assert deployment.spec.template.spec.service_account_name == account.name
    assert "iam.gke.io/gcp-service-account" in account.annotations


def test_prometheus_scrapes_the_metrics_endpoint(objects):
    """The scrape annotations name the path of monitoring.config on the REST port."""
    annotations = objects["Deployment"].spec.template.metadata.annotations
    monitoring = parse_proto(read("monitoring.config"), MonitoringConfig, "monitoring.config")
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == monitoring.prometheus_config.path
    assert annotations["prometheus.io/port"] == flags(container(objects))["rest_api_port"]


def test_image_matches_the_serving_api_pin(objects):
    """The server speaks the same API version as the tensorflow-serving-api the project pins."""
    image, _, tag = container(objects).image.partition(":")
    assert image == "tensorflow/serving"
    assert tag == importlib.metadata.version("tensorflow-serving-api")


# --- inferenceservice.yaml (a CRD: no client model) ----------------------------------------
# Field names (json) from KServe v0.20.0, pkg/apis/serving/v1beta1/, typed in strict_load's
# vocabulary ("object" where the value is a KServe type not modelled here). The core/v1 parts
# are checked against the installed kubernetes client (26.1.0), which predates a few fields
# KServe's CRD has (pod-level resources, hostnameOverride; a container's resizePolicy,
# restartPolicy, restartPolicyRules): those are refused here, so the check errs on the strict
# side.
# https://github.com/kserve/kserve/blob/v0.20.0/pkg/apis/serving/v1beta1/inference_service.go
KSERVE_SPEC_FIELDS = {"predictor": "object", "explainer": "object", "transformer": "object",
                      "canary": "object"}
# PredictorSpec's own fields (predictor.go); it also inlines PodSpec (podspec.go: core/v1
# PodSpec's fields) and ComponentExtensionSpec (component.go).
KSERVE_PREDICTOR_FIELDS = {
    "name": "str", "sklearn": "object", "xgboost": "object", "tensorflow": "object",
    "pytorch": "object", "triton": "object", "onnx": "object", "huggingface": "object",
    "pmml": "object", "lightgbm": "object", "paddle": "object", "model": "object",
    "storageUris": "object", "storageContainerName": "str", "workerSpec": "object"}
KSERVE_COMPONENT_EXTENSION_FIELDS = {
    "minReplicas": "int", "maxReplicas": "int", "scaleTarget": "int", "scaleMetric": "str",
    "scaleMetricType": "str", "autoScaling": "object", "containerConcurrency": "int",
    "timeout": "int", "canaryTrafficPercent": "int", "logger": "object", "batcher": "object",
    "labels": "dict(str, str)", "annotations": "dict(str, str)",
    "deploymentStrategy": "V1DeploymentStrategy"}
# PredictorExtensionSpec (predictor.go), all of TFServingSpec (predictor_tfserving.go) beside
# the core/v1 Container it inlines.
KSERVE_PREDICTOR_EXTENSION_FIELDS = {"storageUri": "str", "runtimeVersion": "str",
                                     "protocolVersion": "str", "storage": "object",
                                     "confidential": "object"}
KSERVE_PROTOCOLS = {"v1", "v2", "grpc-v1", "grpc-v2"}  # pkg/constants/constants.go


def check_fields(data: Dict[str, Any], fields: Dict[str, str], where: str, schema: str) -> None:
    check_keys(data, fields, where, schema)
    for key, value in data.items():
        strict_load(value, fields[key], f"{where}.{key}")


def check_inference_service(doc: Dict[str, Any], source: str = "inferenceservice.yaml") -> None:
    """Raises StrictLoadError on a field KServe's InferenceService (v1beta1) does not have."""
    assert (doc.get("apiVersion"), doc.get("kind")) == ("serving.kserve.io/v1beta1",
                                                        "InferenceService")
    check_fields(doc, {"apiVersion": "str", "kind": "str", "metadata": "V1ObjectMeta",
                       "spec": "object"}, source, "InferenceService")
    check_fields(doc["spec"], KSERVE_SPEC_FIELDS, f"{source}: spec", "InferenceServiceSpec")
    pod_spec = {key: kubernetes.client.V1PodSpec.openapi_types[attr]
                for attr, key in kubernetes.client.V1PodSpec.attribute_map.items()
                if key != "ephemeralContainers"}  # not in KServe's CRD: the API server drops it
    check_fields(doc["spec"]["predictor"],
                 {**KSERVE_PREDICTOR_FIELDS, **KSERVE_COMPONENT_EXTENSION_FIELDS, **pod_spec},
                 f"{source}: spec.predictor", "PredictorSpec")
    tensorflow = dict(doc["spec"]["predictor"].get("tensorflow") or {})
    where = f"{source}: spec.predictor.tensorflow"
    container_fields = kubernetes.client.V1Container.attribute_map.values()
    check_keys(tensorflow, {*KSERVE_PREDICTOR_EXTENSION_FIELDS, *container_fields}, where,
               "TFServingSpec (PredictorExtensionSpec and V1Container)")
    extension = {k: tensorflow.pop(k) for k in list(tensorflow)
                 if k in KSERVE_PREDICTOR_EXTENSION_FIELDS}
    check_fields(extension, KSERVE_PREDICTOR_EXTENSION_FIELDS, where, "PredictorExtensionSpec")
    if extension.get("protocolVersion", "v1") not in KSERVE_PROTOCOLS:
        raise StrictLoadError(f"{where}.protocolVersion: not one of {sorted(KSERVE_PROTOCOLS)}")
    # The rest is a core/v1 Container, whose name KServe sets itself ("kserve-container").
    strict_load({"name": "kserve-container", **tensorflow}, "V1Container", where)


def inference_service() -> Dict[str, Any]:
    (doc,) = [d for d in yaml.safe_load_all(read("inferenceservice.yaml")) if d]
    return doc


def test_inferenceservice_uses_only_kserve_fields():
    """The API server prunes unknown fields of a custom resource silently: check them here."""
    check_inference_service(inference_service())


@pytest.mark.parametrize("path,field,misspelled", [
    ([], "predictor", "predicter"),
    (["predictor"], "minReplicas", "minReplica"),
    (["predictor", "tensorflow"], "storageUri", "storageURI"),
    (["predictor", "tensorflow", "resources"], "limits", "limit"),
])
def test_inferenceservice_check_rejects_a_misspelled_field(path, field, misspelled):
    """The check above can fail, at each level of the spec."""
    doc = copy.deepcopy(inference_service())
    parent = doc["spec"]
    for key in path:
        parent = parent[key]
    rename(parent, field, misspelled)
    with pytest.raises(StrictLoadError, match=misspelled):
        check_inference_service(doc)


def test_inferenceservice_serves_the_same_model(objects):
    """KServe serves the same model from the same bucket with the same server version."""
    doc = inference_service()
    tensorflow = doc["spec"]["predictor"]["tensorflow"]
    # KServe passes --model_name=<metadata.name>: the same REST path as the Deployment.
    assert doc["metadata"]["name"] == MODEL_NAME
    # The model's base directory (numbered versions inside), as in the ConfigMap.
    assert tensorflow["storageUri"] == GCS_BASE_PATH
    assert tensorflow["runtimeVersion"] == container(objects).image.partition(":")[2]
    assert doc["spec"]["predictor"]["serviceAccountName"] == (
        objects["ServiceAccount"].metadata.name)
