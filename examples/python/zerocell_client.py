"""A small Python client for zerocelld (the zerocell.v1.Sandbox gRPC service).

Needs Debian's python3-grpcio and the stubs the build generates into <build>/python
(PYTHONPATH=<build>/python:examples/python). Usage:

    from zerocell_client import Client
    with Client("127.0.0.1:50051") as zc:
        result = zc.execute("build/examples/hello")
    print(result.outcome, result.channels[1].output)

execute() names the program by its content id (sha256) first and sends the bytes only when the
server answers NOT_FOUND, as the C++ client and the zerocell CLI do. Guest outcomes (exit code,
signal, limits, policy violations) are data in the returned ExecuteResponse; RPC errors raise
grpc.RpcError, and a refused image raises RejectedImage carrying the server's ValidationReport.
"""

import hashlib
import ipaddress
import json
import os
import time

import grpc
from google.rpc import status_pb2
from zerocell.v1 import sandbox_pb2, sandbox_pb2_grpc

# Quota for a standard channel the caller gives no limit for: large enough that only the run's
# output limit binds, as in the zerocell CLI.
UNLIMITED = 1 << 50
# Added to the manifest timeout for the call deadline (queue wait, start-up, upload, transfer).
DEADLINE_MARGIN_S = 30.0
DEFAULT_TIMEOUT_MS = 10_000
# Largest gRPC message sent or received: zerocelld's --max_message_bytes default. A response can
# hold a full default output limit (64 MiB) plus proto overhead, so less refuses what it sends.
DEFAULT_MAX_MESSAGE_BYTES = 160 << 20
_STATUS_DETAILS_KEY = "grpc-status-details-bin"

# The service config of every channel, proto/zerocell/v1/service_config.json (shared with the
# C++ and Node.js clients; this package carries it beside its stubs): round_robin spreads calls
# over every address the target resolves to, only over replicas whose gRPC health is SERVING (a
# draining one turns NOT_SERVING first), and a call that ends UNAVAILABLE (a replica draining or
# gone, a broken connection) or CANCELLED by a server (a call that raced its shutdown) is retried,
# on another replica, up to 5 attempts; this client's own cancellations are never retried. Every
# zerocell.v1.Sandbox call is safe to repeat: an Execute has no effect outside its response
# (docs/deployment.md, "Retries").
with open(os.path.join(os.path.dirname(sandbox_pb2.__file__), "service_config.json"),
          encoding="utf-8") as _config:
    SERVICE_CONFIG = json.load(_config)


def channel_target(address):
    """(gRPC target, authority or None) for a server address, as the C++ client does.

    "IP:PORT,IP:PORT,..." (one family; IPv6 as "[::1]:PORT") becomes an "ipv4:" / "ipv6:" URI
    listing every entry, with the first entry as the authority; anything else is used as is
    ("host:port", "dns:///name:port", "ipv4:...", "unix:..."). ValueError names a bad entry.
    """
    if not address:
        raise ValueError("server address: empty")
    if ("," not in address or "://" in address
            or address.startswith(("ipv4:", "ipv6:", "unix:"))):
        return address, None
    entries = address.split(",")
    families = set()
    for entry in entries:
        hint = (" (a list takes IP:PORT entries; for a host name use dns:///NAME:PORT, which "
                "spreads calls over every address the name has)")
        if entry.startswith("["):
            host, sep, port = entry[1:].partition("]:")
            family = 6
        else:
            host, sep, port = entry.rpartition(":")
            family = 4
        try:
            if not sep:
                raise ValueError("no port")
            ip = ipaddress.ip_address(host)
            if ip.version != family:
                raise ValueError("IPv6 addresses go in brackets: [::1]:PORT")
            if not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ValueError("port must be 1..65535")
        except ValueError as error:
            raise ValueError(f'server address list: "{entry}": {error}{hint}') from None
        families.add(family)
    if len(families) > 1:
        raise ValueError("server address list: IPv4 and IPv6 entries cannot be mixed in one list")
    return ("ipv6:" if 6 in families else "ipv4:") + ",".join(entries), entries[0]


class RejectedImage(Exception):
    """The server refused the image; `report` is its zerocell.v1.ValidationReport."""

    def __init__(self, message, report, error):
        super().__init__(message)
        self.report = report
        self.error = error


def image_id_of(elf):
    """The content id the server files `elf` under: "sha256:" + lowercase hex."""
    return "sha256:" + hashlib.sha256(elf).hexdigest()


def rejection_report(error):
    """The ValidationReport a grpc.RpcError carries in its rich status details, or None."""
    for key, value in error.trailing_metadata() or ():
        if key != _STATUS_DETAILS_KEY:
            continue
        rich = status_pb2.Status.FromString(value)
        for detail in rich.details:
            report = sandbox_pb2.ValidationReport()
            if detail.Is(report.DESCRIPTOR) and detail.Unpack(report):
                return report
    return None


def _read_program(program):
    if isinstance(program, (bytes, bytearray, memoryview)):
        return bytes(program)
    with open(program, "rb") as f:
        return f.read()


def _raise_rich(error):
    report = rejection_report(error) if error.code() == grpc.StatusCode.INVALID_ARGUMENT else None
    if report is not None:
        raise RejectedImage(error.details(), report, error) from error
    raise error


def standard_manifest(argv=None, stdin=b"", timeout_ms=0, memory_bytes=0, env=None,
                      output_limit_bytes=0, cpu_limit_ms=0, random_seed=0):
    """A Manifest with /dev/stdin serving `stdin` and /dev/stdout, /dev/stderr writable."""
    manifest = sandbox_pb2.Manifest(
        timeout_ms=timeout_ms, cpu_limit_ms=cpu_limit_ms, memory_bytes=memory_bytes,
        output_limit_bytes=output_limit_bytes, argv=list(argv or []), env=list(env or []),
        random_seed=random_seed)
    manifest.channels.add(alias="/dev/stdin", gets=UNLIMITED, get_size=UNLIMITED,
                          initial_data=bytes(stdin))
    manifest.channels.add(alias="/dev/stdout", puts=UNLIMITED, put_size=UNLIMITED)
    manifest.channels.add(alias="/dev/stderr", puts=UNLIMITED, put_size=UNLIMITED)
    return manifest


class Client:
    """A channel to a zerocelld or to a set of replicas. Plaintext, TLS (tls_ca) or mutual TLS.

    `address`: "host:port", "IP:PORT,IP:PORT,...", or a gRPC target such as
    "dns:///zerocell-headless.ns.svc:50051"; calls go round-robin over every address, and one
    that ends UNAVAILABLE is retried on another (SERVICE_CONFIG).
    `interceptors`: grpc client interceptors every call goes through (e.g. to add metadata).
    """

    def __init__(self, address, tls_ca=None, tls_cert=None, tls_key=None,
                 max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES, interceptors=()):
        target, authority = channel_target(address)
        options = [("grpc.max_send_message_length", max_message_bytes),
                   ("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.service_config", json.dumps(SERVICE_CONFIG)),
                   ("grpc.service_config_disable_resolution", 1),
                   ("grpc.enable_retries", 1),
                   # Retried only while buffered: room for the largest request.
                   ("grpc.per_rpc_retry_buffer_size", max_message_bytes)]
        if authority:
            options.append(("grpc.default_authority", authority))
        if tls_ca:
            def read(path):
                with open(path, "rb") as f:
                    return f.read()
            if bool(tls_cert) != bool(tls_key):
                raise ValueError("tls_cert and tls_key: give both (mutual TLS) or neither")
            credentials = grpc.ssl_channel_credentials(
                root_certificates=read(tls_ca),
                private_key=read(tls_key) if tls_key else None,
                certificate_chain=read(tls_cert) if tls_cert else None)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            if tls_cert or tls_key:
                raise ValueError("tls_cert/tls_key need tls_ca")
            self._channel = grpc.insecure_channel(target, options=options)
        channel = grpc.intercept_channel(self._channel, *interceptors)
        self._stub = sandbox_pb2_grpc.SandboxStub(channel)
        # What this client sent: Execute requests by id, and image uploads after NOT_FOUND.
        self.executes_by_id = 0
        self.image_uploads = 0

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def register(self, program, name=""):
        """RegisterImage: the RegisterImageResponse; RejectedImage when refused."""
        try:
            return self._stub.RegisterImage(
                sandbox_pb2.RegisterImageRequest(elf=_read_program(program), name=name),
                timeout=60)
        except grpc.RpcError as error:
            _raise_rich(error)

    def execute(self, program, argv=None, stdin=b"", timeout_ms=0, memory_bytes=0, env=None,
                manifest=None, deadline_s=None, **limits):
        """Runs `program` (a path or the ELF bytes) and returns the ExecuteResponse.

        Without `manifest`, one is built by standard_manifest(argv, stdin, timeout_ms,
        memory_bytes, env, **limits); argv defaults to [basename of the path] or ["program"].
        `deadline_s` bounds the whole call, the upload retry included (as in the C++ client); it
        defaults to the manifest timeout + DEADLINE_MARGIN_S.
        """
        elf = _read_program(program)
        if manifest is None:
            if argv is None and not isinstance(program, (bytes, bytearray, memoryview)):
                argv = [os.path.basename(os.fspath(program))]
            manifest = standard_manifest(argv, stdin, timeout_ms, memory_bytes, env, **limits)
        if deadline_s is None:
            deadline_s = (manifest.timeout_ms or DEFAULT_TIMEOUT_MS) / 1000 + DEADLINE_MARGIN_S
        deadline = time.monotonic() + deadline_s
        request = sandbox_pb2.ExecuteRequest(image_id=image_id_of(elf), manifest=manifest)
        try:
            self.executes_by_id += 1
            try:
                return self._stub.Execute(request, timeout=deadline_s)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:
                    raise
            # The server does not have the image (never sent, or evicted): send it this once,
            # within what is left of the deadline (0 left: DEADLINE_EXCEEDED at once).
            self.image_uploads += 1
            request.image = elf
            return self._stub.Execute(request, timeout=max(0.0, deadline - time.monotonic()))
        except grpc.RpcError as error:
            _raise_rich(error)

    def register_tree(self, tar, name=""):
        """RegisterImage of a file tree (`tar`: a path or the archive's bytes): the
        RegisterImageResponse; RejectedImage (naming the refused file) when refused."""
        try:
            return self._stub.RegisterImage(
                sandbox_pb2.RegisterImageRequest(tree_tar=_read_program(tar), name=name),
                timeout=120)
        except grpc.RpcError as error:
            _raise_rich(error)

    def ensure_tree(self, tar):
        """The id of the tree `tar` (a path or bytes), registering it when the server lacks it."""
        data = _read_program(tar)
        tree_id = image_id_of(data)
        try:
            self._stub.GetImage(sandbox_pb2.GetImageRequest(image_id=tree_id), timeout=60)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
            self.image_uploads += 1
            self.register_tree(data)
        return tree_id

    def execute_in_trees(self, trees, path, argv=None, stdin=b"", manifest=None, deadline_s=None,
                         **limits):
        """Runs the program at `path` in the mounted `trees` and returns the ExecuteResponse.

        `trees`: {mountpoint: tar} (a tar is a path, the bytes, or an id "sha256:..."); those the
        server lacks are registered first. Without `manifest`, one is built as for execute()
        (argv defaults to [path]); its mounts and program_path are set here either way.
        """
        if manifest is None:
            manifest = standard_manifest(argv if argv is not None else [path], stdin, **limits)
        else:
            copy = sandbox_pb2.Manifest()
            copy.CopyFrom(manifest)  # the caller's manifest is left as it was
            manifest = copy
        del manifest.mounts[:]
        manifest.mounts.extend(self._tree_mounts(trees))
        manifest.program_path = path
        if deadline_s is None:
            deadline_s = (manifest.timeout_ms or DEFAULT_TIMEOUT_MS) / 1000 + DEADLINE_MARGIN_S
        try:
            return self._stub.Execute(sandbox_pb2.ExecuteRequest(manifest=manifest),
                                      timeout=deadline_s)
        except grpc.RpcError as error:
            _raise_rich(error)

    def _tree_mounts(self, trees):
        """[Mount] of `trees` ({mountpoint: tar path, bytes or "sha256:..." id}), registering
        each tree the server lacks."""
        return [sandbox_pb2.Mount(
            mountpoint=mountpoint,
            tree_id=tar if isinstance(tar, str) and tar.startswith("sha256:") else
            self.ensure_tree(tar)) for mountpoint, tar in trees.items()]

    def ensure_image(self, program):
        """The image id of `program`, registering it first when the server lacks it (a stream
        cannot be replayed with the bytes inline after a NOT_FOUND)."""
        elf = _read_program(program)
        image_id = image_id_of(elf)
        try:
            self._stub.GetImage(sandbox_pb2.GetImageRequest(image_id=image_id), timeout=60)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
            self.image_uploads += 1
            self.register(elf)
        return image_id

    def execute_stream(self, program, inputs=(), argv=None, manifest=None, deadline_s=None):
        """ExecuteStream: runs `program` with its channels connected to this call.

        `inputs`: an iterable of (alias, bytes) or (alias, bytes, end) chunks ("" or None alias:
        /dev/stdin), consumed as the server's window admits (a guest that reads slowly holds the
        iterator back). A true `end` marks that chunk as its channel's last (the guest then reads
        end of file there, while the iterable goes on feeding other channels or waits); a channel
        not ended so ends when the iterable is exhausted. Yields ("output", alias, bytes) for
        each chunk the guest writes, as it writes it, then ("result", ExecuteResponse) last.
        `manifest` defaults to one with `argv` and the server's default standard channels.
        """
        image_id = self.ensure_image(program)
        if manifest is None:
            if argv is None and not isinstance(program, (bytes, bytearray, memoryview)):
                argv = [os.path.basename(os.fspath(program))]
            manifest = sandbox_pb2.Manifest(argv=argv or [])
        if deadline_s is None:
            deadline_s = (manifest.timeout_ms or DEFAULT_TIMEOUT_MS) / 1000 + DEADLINE_MARGIN_S

        def requests():
            yield sandbox_pb2.StreamRequest(
                start=sandbox_pb2.StreamStart(image_id=image_id, manifest=manifest))
            for item in inputs:
                if len(item) not in (2, 3):
                    raise ValueError("execute_stream inputs: expected (alias, bytes) or "
                                     "(alias, bytes, end), got %d items" % len(item))
                alias, data = item[0], item[1]
                end = len(item) == 3 and bool(item[2])
                yield sandbox_pb2.StreamRequest(input=sandbox_pb2.StreamInput(
                    alias=alias or "", data=bytes(data or b""), end=end))
            # The end of the iterable ends every readable channel (the client half-closes).

        try:
            for response in self._stub.ExecuteStream(requests(), timeout=deadline_s):
                if response.HasField("output"):
                    yield ("output", response.output.alias, response.output.data)
                elif response.HasField("result"):
                    yield ("result", response.result)
        except grpc.RpcError as error:
            _raise_rich(error)

    def execute_batch(self, program, manifests, parallelism=0, deadline_s=None, trees=None):
        """ExecuteBatch: runs `program` under each manifest in one call and yields each
        ExecuteBatchResult (index, then response or error_code/error_message) as it completes.

        With `trees` ({mountpoint: tar}, as for execute_in_trees) `program` is a path in them:
        each manifest (copied) mounts the trees unless it sets mounts itself, and runs `program`
        unless it sets program_path; no image is sent. A path not in the trees fails its run alone.
        """
        manifests = list(manifests)
        if trees is not None:
            mounts = self._tree_mounts(trees)
            runs = []
            for m in manifests:
                copy = sandbox_pb2.Manifest()
                copy.CopyFrom(m)
                if not copy.mounts:
                    copy.mounts.extend(mounts)
                if not copy.program_path:
                    copy.program_path = program
                runs.append(copy)
            request = sandbox_pb2.ExecuteBatchRequest(runs=runs, parallelism=parallelism)
        else:
            request = sandbox_pb2.ExecuteBatchRequest(image_id=self.ensure_image(program),
                                                      runs=manifests, parallelism=parallelism)
        if deadline_s is None:
            deadline_s = DEADLINE_MARGIN_S + sum(
                (m.timeout_ms or DEFAULT_TIMEOUT_MS) / 1000 for m in manifests)
        try:
            yield from self._stub.ExecuteBatch(request, timeout=deadline_s)
        except grpc.RpcError as error:
            _raise_rich(error)

    def get_image(self, image_id):
        return self._stub.GetImage(sandbox_pb2.GetImageRequest(image_id=image_id), timeout=60)

    def list_images(self):
        """Every cached image, most recently used first (all pages)."""
        images, token = [], ""
        while True:
            page = self._stub.ListImages(sandbox_pb2.ListImagesRequest(page_token=token),
                                         timeout=60)
            images.extend(page.images)
            token = page.next_page_token
            if not token:
                return images


def channel(response, alias):
    """The ChannelResult for `alias` in an ExecuteResponse (KeyError if absent)."""
    for result in response.channels:
        if result.alias == alias:
            return result
    raise KeyError(alias)


def outcome_name(response):
    """"EXITED", "TIMEOUT", ... (the Outcome enum name without its prefix)."""
    return sandbox_pb2.Outcome.Name(response.outcome).removeprefix("OUTCOME_")
