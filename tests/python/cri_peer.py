#!/usr/bin/env python3
"""The Python peer of the Rust CRI crates' interop tests: an independent protobuf and gRPC
implementation (protoc's Python output, upb, gRPC C-core), driven by tests/tests/python_*.rs.

The Python modules are compiled from the vendored proto/ at start-up with grpcio-tools'
bundled protoc, into a temporary directory that is removed at exit.

Usage (PROTO is the project's proto/ directory):
  cri_peer.py --proto PROTO check                 print the versions of the Python packages
  cri_peer.py --proto PROTO wire                  answer wire/JSON requests, one JSON line each
  cri_peer.py --proto PROTO serve SOCKET          serve v1 and v1alpha2 on a Unix socket until
                                                  stdin closes; prints "READY" once listening
  cri_peer.py --proto PROTO client SOCKET LEGACY  call the runtime on SOCKET (and, on LEGACY, one
                                                  without the Stream RPCs); prints one JSON line
"""

import argparse
import atexit
import importlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent import futures

# The vendored files live under k8s.io/…; protoc's Python output turns that into k8s/io/cri_api/….
PROTO_FILES = [
    "k8s.io/cri-api/pkg/apis/runtime/v1/api.proto",
    "k8s.io/cri-api/pkg/apis/runtime/v1alpha2/api.proto",
    "github.com/gogo/protobuf/gogoproto/gogo.proto",
]


def compile_protos(proto_root):
    """Compiles the vendored protos into a fresh temporary directory and imports them."""
    out = tempfile.mkdtemp(prefix="cri-peer-py-")
    atexit.register(shutil.rmtree, out, True)
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc", "-I" + proto_root,
        "--python_out=" + out, "--grpc_python_out=" + out,
    ] + PROTO_FILES
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit("grpc_tools.protoc failed:\n" + done.stderr)
    sys.path.insert(0, out)
    modules = {}
    for version in ("v1", "v1alpha2"):
        base = "k8s.io.cri_api.pkg.apis.runtime." + version
        modules[version] = (
            importlib.import_module(base + ".api_pb2"),
            importlib.import_module(base + ".api_pb2_grpc"),
        )
    return modules


# ---------------------------------------------------------------------------------------------
# Wire and JSON
# ---------------------------------------------------------------------------------------------

def message_class(full_name):
    from google.protobuf import descriptor_pool, message_factory

    descriptor = descriptor_pool.Default().FindMessageTypeByName(full_name)
    return message_factory.GetMessageClass(descriptor)


def is_map(field):
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def scalar(field, i, negative_zero=False):
    """Python's own values, different from the Rust side's, with every field non-default
    (negative_zero: -0.0 in every double and float field, which proto3 counts as set)."""
    from google.protobuf.descriptor import FieldDescriptor as F

    t = field.type
    if t == F.TYPE_STRING:
        return "py-%s-ß-✓-中文-%d" % (field.name, i)
    if t == F.TYPE_BYTES:
        return bytes([0xFF, 0x00, 0xFB, 0xBF, 0x7F, 0x3E, i])
    if t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return -7_654_321 - i
    if t in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
        return -(2**62) - 12_345 - i
    if t in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return 2**32 - 1 - i
    if t in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return 2**64 - 7 - i
    if t == F.TYPE_BOOL:
        return True
    if t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return -0.0 if negative_zero else 0.375 + i
    if t == F.TYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values if v.number != 0] or [0]
        return numbers[(i + 1) % len(numbers)]
    raise ValueError("unexpected field type %d of %s" % (t, field.full_name))


def fill(msg, depth=0, negative_zero=False):
    """Sets every field of msg: 2 map entries, 2 repeated elements, nested messages filled."""
    from google.protobuf.descriptor import FieldDescriptor as F

    if depth > 30:
        raise ValueError("recursive message " + msg.DESCRIPTOR.full_name)
    for field in msg.DESCRIPTOR.fields:
        value = getattr(msg, field.name)
        if is_map(field):
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            for i in range(2):
                key = scalar(key_field, i + 10)
                if value_field.type == F.TYPE_MESSAGE:
                    fill(value[key], depth + 1, negative_zero)
                else:
                    value[key] = scalar(value_field, i, negative_zero)
        elif field.is_repeated:
            for i in range(2):
                if field.type == F.TYPE_MESSAGE:
                    fill(value.add(), depth + 1, negative_zero)
                else:
                    value.append(scalar(field, i, negative_zero))
        elif field.type == F.TYPE_MESSAGE:
            value.SetInParent()
            fill(value, depth + 1, negative_zero)
        else:
            setattr(msg, field.name, scalar(field, 0, negative_zero))
    return msg


def is_default(field, value):
    """Does a singular scalar hold its default? For doubles and floats the bits count: -0.0 is
    set (proto3: "-0 is considered distinct and will be serialized"), +0.0 is not."""
    from google.protobuf.descriptor import FieldDescriptor as F

    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return value == 0 and math.copysign(1.0, value) > 0
    return value == field.default_value


def unset_fields(msg, path=""):
    """The fields of msg (recursively) that hold no value (a +0.0 where -0.0 was meant counts:
    see is_default), and any unknown fields."""
    from google.protobuf import unknown_fields
    from google.protobuf.descriptor import FieldDescriptor as F

    missing = []
    where = path or msg.DESCRIPTOR.full_name
    if len(unknown_fields.UnknownFieldSet(msg)):
        missing.append(where + ": unknown fields " + repr(
            sorted(f.field_number for f in unknown_fields.UnknownFieldSet(msg))))
    for field in msg.DESCRIPTOR.fields:
        name = where + "." + field.name
        value = getattr(msg, field.name)
        if is_map(field) or field.is_repeated:
            if len(value) == 0:
                missing.append(name)
            elif is_map(field):
                if field.message_type.fields_by_name["value"].type == F.TYPE_MESSAGE:
                    for key in value:
                        missing += unset_fields(value[key], "%s[%r]" % (name, key))
            elif field.type == F.TYPE_MESSAGE:
                for i, item in enumerate(value):
                    missing += unset_fields(item, "%s[%d]" % (name, i))
        elif field.type == F.TYPE_MESSAGE:
            if msg.HasField(field.name):
                missing += unset_fields(value, name)
            else:
                missing.append(name)
        elif is_default(field, value) and not (
            field.type == F.TYPE_ENUM and all(v.number == 0 for v in field.enum_type.values)
        ):
            missing.append(name)
    return missing


def differences(a, b, path=""):
    """Where two messages of the same type differ (top-level field names, recursively)."""
    if a == b:
        return []
    out = []
    where = path or a.DESCRIPTOR.full_name
    for field in a.DESCRIPTOR.fields:
        x, y = getattr(a, field.name), getattr(b, field.name)
        if x != y:
            if field.message_type is not None and not field.is_repeated:
                out += differences(x, y, where + "." + field.name) or [where + "." + field.name]
            else:
                out.append(where + "." + field.name)
    return out or [where + ": unknown fields differ"]


def encode(msg):
    return msg.SerializeToString(deterministic=True).hex()


def to_json(msg):
    from google.protobuf import json_format

    return json_format.MessageToJson(msg, indent=None)


def parse(full_name, hex_bytes):
    msg = message_class(full_name)()
    msg.ParseFromString(bytes.fromhex(hex_bytes))
    return msg


def parse_json(full_name, text):
    from google.protobuf import json_format

    return json_format.Parse(text, message_class(full_name)())


def op_decode(item):
    """Rust's bytes and JSON: what Python reads in them and writes back."""
    msg = parse(item["type"], item["bytes"])
    out = {"unset": unset_fields(msg), "bytes": encode(msg), "json": to_json(msg)}
    try:
        from_json = parse_json(item["type"], item["json"])
        out["json_parsed_bytes"] = encode(from_json)
        out["json_differences"] = differences(msg, from_json)
    except Exception as error:  # noqa: BLE001 - reported to the Rust side
        out["json_error"] = "%s: %s" % (type(error).__name__, error)
    return out


def op_make(full_name, negative_zero):
    """A message of Python's own with every field set."""
    msg = fill(message_class(full_name)(), negative_zero=negative_zero)
    return {"unset": unset_fields(msg), "bytes": encode(msg), "json": to_json(msg)}


def op_compare(item):
    """Does what Rust wrote (bytes and JSON) read as the message Python made?"""
    expected = parse(item["type"], item["expected"])
    from_bytes = parse(item["type"], item["bytes"])
    out = {"bytes_differences": differences(expected, from_bytes),
           "bytes_unset": unset_fields(from_bytes)}
    try:
        from_json = parse_json(item["type"], item["json"])
        out["json_differences"] = differences(expected, from_json)
        out["json_unset"] = unset_fields(from_json)
    except Exception as error:  # noqa: BLE001
        out["json_differences"] = ["%s: %s" % (type(error).__name__, error)]
    return out


def op_json(item):
    """One JSON check of tests/tests/python_json.rs.

    "parse": parse item["json"] (with ignore_unknown_fields as item["ignore"]); answer the
    message's bytes, or the error. "write": parse Rust's item["json"], then write the message
    with the printing options item["options"] (emit_defaults, proto_field_names,
    enums_as_numbers); answer that JSON, or the error.
    """
    from google.protobuf import json_format

    msg = message_class(item["type"])()
    try:
        json_format.Parse(item["json"], msg, ignore_unknown_fields=item.get("ignore", False))
    except Exception as error:  # noqa: BLE001 - reported to the Rust side
        return {"error": "%s: %s" % (type(error).__name__, error)}
    if item["op"] == "parse":
        return {"bytes": encode(msg)}
    options = item["options"]
    return {"json": json_format.MessageToJson(
        msg,
        indent=None,
        always_print_fields_with_no_presence=options["emit_defaults"],
        preserving_proto_field_name=options["proto_field_names"],
        use_integers_for_enums=options["enums_as_numbers"],
    )}


def wire():
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "decode":
            reply = [op_decode(item) for item in request["items"]]
        elif op == "make":
            reply = [op_make(name, request.get("negative_zero", False))
                     for name in request["types"]]
        elif op == "compare":
            reply = [op_compare(item) for item in request["items"]]
        elif op == "json":
            reply = [op_json(item) for item in request["items"]]
        else:
            reply = {"error": "unknown op " + op}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# gRPC server: a small runtime of Python's own, for the Rust clients
# ---------------------------------------------------------------------------------------------

def py_containers(pb):
    """The containers the Python server lists (the Rust test expects exactly these)."""
    out = []
    for i in range(5):
        out.append(pb.Container(
            id="%064x" % i,
            pod_sandbox_id="%064x" % (100 + i),
            metadata=pb.ContainerMetadata(name="ctr-%d-ü" % i, attempt=i),
            image=pb.ImageSpec(image="docker.io/library/busybox:1.36"),
            image_ref="sha256:" + "ab" * 32,
            state=pb.CONTAINER_RUNNING,
            created_at=1_700_000_000_000_000_000 + i,
            labels={"index": str(i), "ünï": "✓"},
        ))
    return out


def serve(modules, socket):
    import grpc

    v1, v1_grpc = modules["v1"]
    a2, a2_grpc = modules["v1alpha2"]

    class Runtime(v1_grpc.RuntimeServiceServicer):
        def Version(self, request, context):
            return v1.VersionResponse(version=request.version, runtime_name="python-grpcio",
                                      runtime_version=grpc.__version__, runtime_api_version="v1")

        def Status(self, request, context):
            return v1.StatusResponse(status=v1.RuntimeStatus(conditions=[
                v1.RuntimeCondition(type="RuntimeReady", status=True),
                v1.RuntimeCondition(type="NetworkReady", status=False, reason="NoCNI",
                                    message="no network plugin ✗"),
            ]))

        def ListContainers(self, request, context):
            return v1.ListContainersResponse(containers=py_containers(v1))

        def StreamContainers(self, request, context):
            items = py_containers(v1)
            for start in range(0, len(items), 2):
                yield v1.StreamContainersResponse(containers=items[start:start + 2])

        def ExecSync(self, request, context):
            return v1.ExecSyncResponse(stdout=" ".join(request.cmd).encode(),
                                       stderr=b"\xffpy", exit_code=len(request.cmd))

        def GetContainerEvents(self, request, context):
            for i in range(3):
                yield v1.ContainerEventResponse(container_id="%064x" % i,
                                                container_event_type=i,
                                                created_at=1_700_000_000_000_000_000 + i)

    class Images(v1_grpc.ImageServiceServicer):
        def ListImages(self, request, context):
            return v1.ListImagesResponse(images=[
                v1.Image(id="sha256:" + "%064x" % i, repo_tags=["py/image:%d" % i], size=2**40 + i)
                for i in range(3)
            ])

        def StreamImages(self, request, context):
            for image in self.ListImages(request, context).images:
                yield v1.StreamImagesResponse(images=[image])

    class OldRuntime(a2_grpc.RuntimeServiceServicer):
        def Version(self, request, context):
            return a2.VersionResponse(version=request.version, runtime_name="python-grpcio",
                                      runtime_version=grpc.__version__,
                                      runtime_api_version="v1alpha2")

        def ListContainers(self, request, context):
            return a2.ListContainersResponse(containers=py_containers(a2))

        def ExecSync(self, request, context):
            return a2.ExecSyncResponse(stdout=" ".join(request.cmd).encode(), exit_code=7)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    v1_grpc.add_RuntimeServiceServicer_to_server(Runtime(), server)
    v1_grpc.add_ImageServiceServicer_to_server(Images(), server)
    a2_grpc.add_RuntimeServiceServicer_to_server(OldRuntime(), server)
    server.add_insecure_port("unix://" + socket)
    server.start()
    print("READY", flush=True)
    sys.stdin.read()  # until the test closes our stdin (or dies)
    server.stop(grace=None)


# ---------------------------------------------------------------------------------------------
# gRPC client: calls the Rust fake runtime
# ---------------------------------------------------------------------------------------------

def client(modules, socket, legacy_socket):
    import grpc

    v1, v1_grpc = modules["v1"]
    # Default channels: gRPC C-core sends the socket's path as :authority on unix: targets,
    # which h2 (tonic's HTTP/2) would refuse; the fake's server repairs it
    # (cri_api_v1::unix_server), and these tests prove it.
    out = {}
    with grpc.insecure_channel("unix://" + socket) as channel:
        rt = v1_grpc.RuntimeServiceStub(channel)
        im = v1_grpc.ImageServiceStub(channel)
        version = rt.Version(v1.VersionRequest(version="0.1.0"), timeout=10)
        out["version"] = [version.runtime_name, version.runtime_api_version]

        # Subscribe first; the headers arrive once the server has subscribed us.
        events = rt.GetContainerEvents(v1.GetEventsRequest(), timeout=20)
        events.initial_metadata()

        pod = rt.RunPodSandbox(v1.RunPodSandboxRequest(config=v1.PodSandboxConfig(
            metadata=v1.PodSandboxMetadata(name="py-pod", namespace="py", uid="py-uid"),
            labels={"from": "python", "ünï": "✓"},
        )), timeout=10).pod_sandbox_id
        ctr = rt.CreateContainer(v1.CreateContainerRequest(
            pod_sandbox_id=pod,
            config=v1.ContainerConfig(metadata=v1.ContainerMetadata(name="py-ctr"),
                                      image=v1.ImageSpec(image="busybox:1.36")),
        ), timeout=10).container_id
        rt.StartContainer(v1.StartContainerRequest(container_id=ctr), timeout=10)
        status = rt.ContainerStatus(v1.ContainerStatusRequest(container_id=ctr), timeout=10)
        out["state"] = v1.ContainerState.Name(status.status.state)
        exec_ = rt.ExecSync(v1.ExecSyncRequest(container_id=ctr, cmd=["echo", "hé", "✓"]),
                            timeout=10)
        out["exec"] = [exec_.stdout.decode(), exec_.exit_code]

        listed = rt.ListContainers(v1.ListContainersRequest(), timeout=10).containers
        out["listed_containers"] = [c.id for c in listed]
        pages = list(rt.StreamContainers(v1.StreamContainersRequest(), timeout=10))
        out["streamed_containers"] = [c.id for page in pages for c in page.containers]
        out["container_pages"] = len(pages)
        # The same containers, to the byte.
        out["streamed_equal_listed"] = [c for p in pages for c in p.containers] == list(listed)

        pods = rt.ListPodSandbox(v1.ListPodSandboxRequest(), timeout=10).items
        pod_pages = list(rt.StreamPodSandboxes(v1.StreamPodSandboxesRequest(), timeout=10))
        out["listed_pods"] = [p.id for p in pods]
        out["streamed_pods"] = [p.id for page in pod_pages for p in page.pod_sandboxes]
        stats = list(rt.StreamContainerStats(v1.StreamContainerStatsRequest(), timeout=10))
        out["streamed_stats"] = sum(len(p.container_stats) for p in stats)
        images = im.ListImages(v1.ListImagesRequest(), timeout=10).images
        image_pages = list(im.StreamImages(v1.StreamImagesRequest(), timeout=10))
        out["listed_images"] = [i.id for i in images]
        out["streamed_images"] = [i.id for page in image_pages for i in page.images]
        image = im.ImageStatus(v1.ImageStatusRequest(image=v1.ImageSpec(image="busybox:1.36")),
                               timeout=10).image
        out["image_status"] = list(image.repo_tags)

        rt.StopContainer(v1.StopContainerRequest(container_id=ctr, timeout=0), timeout=10)
        rt.RemoveContainer(v1.RemoveContainerRequest(container_id=ctr), timeout=10)
        seen = []
        for event in events:
            if event.container_id == ctr:
                seen.append(v1.ContainerEventType.Name(event.container_event_type))
            if len(seen) == 4:
                break
        events.cancel()
        out["events"] = seen
        try:
            rt.RuntimeConfig(v1.RuntimeConfigRequest(), timeout=10)
            out["runtime_config"] = "OK"
        except grpc.RpcError as error:
            out["runtime_config"] = error.code().name

    with grpc.insecure_channel("unix://" + legacy_socket) as channel:
        rt = v1_grpc.RuntimeServiceStub(channel)
        im = v1_grpc.ImageServiceStub(channel)
        legacy = {}
        for name, call in [
            ("StreamContainers", lambda: rt.StreamContainers(v1.StreamContainersRequest())),
            ("StreamPodSandboxes", lambda: rt.StreamPodSandboxes(v1.StreamPodSandboxesRequest())),
            ("StreamImages", lambda: im.StreamImages(v1.StreamImagesRequest())),
        ]:
            try:
                list(call())
                legacy[name] = "OK"
            except grpc.RpcError as error:
                legacy[name] = error.code().name
        legacy["ListContainers"] = len(rt.ListContainers(v1.ListContainersRequest()).containers)
        out["legacy"] = legacy
    print(json.dumps(out), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto", required=True, help="the project's proto/ directory")
    parser.add_argument("mode", choices=["check", "wire", "serve", "client"])
    parser.add_argument("args", nargs="*")
    args = parser.parse_args()
    if args.mode == "check":
        import google.protobuf
        import grpc
        import grpc_tools  # noqa: F401 - must be importable

        from google.protobuf.internal import api_implementation
        versions = {"grpcio": grpc.__version__, "protobuf": google.protobuf.__version__,
                    "protobuf_backend": api_implementation.Type()}
        try:
            from importlib.metadata import version
            versions["grpcio-tools"] = version("grpcio-tools")
        except Exception:  # noqa: BLE001
            pass
        print(json.dumps(versions))
        return
    modules = compile_protos(os.path.abspath(args.proto))
    if args.mode == "wire":
        wire()
    elif args.mode == "serve":
        serve(modules, args.args[0])
    elif args.mode == "client":
        client(modules, args.args[0], args.args[1])


if __name__ == "__main__":
    main()
