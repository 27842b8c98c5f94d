// Node.js client of zerocelld (zerocell.v1.Sandbox) on @grpc/grpc-js: execute, executeStream
// (Node streams) and executeBatch. Images are named by their sha256 id first and uploaded only
// when the server answers NOT_FOUND (as the C++ client and the CLI do).
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Duplex, Readable } = require('node:stream');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

/** Directory holding zerocell/v1/sandbox.proto (the repository's proto/, or $ZEROCELL_PROTO_DIR). */
const PROTO_DIR = process.env.ZEROCELL_PROTO_DIR || path.join(__dirname, '..', '..', 'proto');
/** Added to the manifest's timeout for a call's default deadline (queue, start-up, transfer). */
const DEADLINE_MARGIN_MS = 30000;
const DEFAULT_TIMEOUT_MS = 10000;
/** zerocelld's default --max_message_bytes. */
const MAX_MESSAGE_BYTES = 160 << 20;

/**
 * The channels' service config, proto/zerocell/v1/service_config.json (shared with the C++ and
 * Python clients): round robin over every address the target resolves to, and a call that ends
 * UNAVAILABLE or CANCELLED by a server is retried up to 5 attempts (every Sandbox call is safe to
 * repeat: docs/deployment.md, "Retries"). grpc-js ignores its healthCheckConfig: a draining
 * replica is left when its GOAWAY arrives, not when its health turns NOT_SERVING.
 */
const SERVICE_CONFIG = fs.readFileSync(path.join(PROTO_DIR, 'zerocell/v1/service_config.json'),
  'utf8');

const definition = protoLoader.loadSync(path.join(PROTO_DIR, 'zerocell/v1/sandbox.proto'), {
  includeDirs: [PROTO_DIR],
  keepCase: false, // lowerCamelCase field names, as the proto JSON mapping
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const v1 = grpc.loadPackageDefinition(definition).zerocell.v1;

/**
 * @typedef {Object} Channel  A zerocell.v1.Channel (see sandbox.proto).
 * @property {string} alias
 * @property {number} [type]
 * @property {boolean} [etag]
 * @property {number} [gets]
 * @property {number} [getSize]
 * @property {number} [puts]
 * @property {number} [putSize]
 * @property {Buffer} [initialData]
 */

/**
 * @typedef {Object} Manifest  A zerocell.v1.Manifest; every field optional. Standard channels
 *   left out get the server's defaults (empty stdin, stdout/stderr within the output limit).
 * @property {string[]} [argv]
 * @property {string[]} [env]
 * @property {number} [timeoutMs]
 * @property {number} [cpuLimitMs]
 * @property {number} [memoryBytes]
 * @property {number} [outputLimitBytes]
 * @property {number} [randomSeed]
 * @property {Channel[]} [channels]
 */

/**
 * @typedef {Object} ChannelResult
 * @property {string} alias
 * @property {number} reads
 * @property {number} readBytes
 * @property {number} writes
 * @property {number} writeBytes
 * @property {boolean} getQuotaExceeded
 * @property {boolean} putQuotaExceeded
 * @property {string} etag
 * @property {boolean} writable
 * @property {Buffer} output
 */

/**
 * @typedef {Object} ExecuteResponse  A zerocell.v1.ExecuteResponse.
 * @property {string} outcome  e.g. "OUTCOME_EXITED", "OUTCOME_TIMEOUT"
 * @property {number} exitCode
 * @property {number} signal
 * @property {string} detail
 * @property {ChannelResult[]} channels
 * @property {Object} usage
 * @property {string} imageId
 */

/**
 * @typedef {Object} BatchResult  One run of a batch.
 * @property {number} index  its position in the runs given
 * @property {ExecuteResponse|null} response  set when the run happened
 * @property {number} errorCode  gRPC status code when it could not (0 otherwise)
 * @property {string} errorMessage
 */

/**
 * @typedef {Object} CallOptions
 * @property {number} [deadlineMs]  whole call; default: the timeout(s) plus 30 s
 */

/** sha256:<hex> of an ELF's bytes: the image id the server caches it under. */
function imageIdOf(elf) {
  return 'sha256:' + crypto.createHash('sha256').update(elf).digest('hex');
}

function deadlineFor(ms) {
  return new Date(Date.now() + ms);
}

function timeoutOf(manifest) {
  return (manifest && manifest.timeoutMs) || DEFAULT_TIMEOUT_MS;
}

class Client {
  /**
   * @param {string} address  "host:port" (plaintext), or any gRPC target
   * @param {grpc.ChannelCredentials} [credentials]  default: insecure
   */
  constructor(address, credentials = grpc.credentials.createInsecure()) {
    this.stub = new v1.Sandbox(address, credentials, {
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.service_config': SERVICE_CONFIG,
      // A call is retried only while its request fits the retry buffers (the channel's and the
      // call's): room for one of the largest, as the C++ client allows.
      'grpc.retry_buffer_size': MAX_MESSAGE_BYTES,
      'grpc.per_rpc_retry_buffer_size': MAX_MESSAGE_BYTES,
    });
  }

  close() {
    this.stub.close();
  }

  _unary(method, request, deadlineMs) {
    return new Promise((resolve, reject) => {
      this.stub[method](request, { deadline: deadlineFor(deadlineMs) }, (err, response) =>
        err ? reject(err) : resolve(response));
    });
  }

  /**
   * Registers `elf` (a Buffer or a file path) unless the server has it; resolves to its id.
   * @param {Buffer|string} elf
   * @returns {Promise<string>}
   */
  async ensureImage(elf) {
    const bytes = typeof elf === 'string' ? fs.readFileSync(elf) : elf;
    const id = imageIdOf(bytes);
    try {
      await this._unary('getImage', { imageId: id }, 30000);
    } catch (err) {
      if (err.code !== grpc.status.NOT_FOUND) throw err;
      await this._unary('registerImage', { elf: bytes }, 60000);
    }
    return id;
  }

  /**
   * Registers the file tree `tar` (a Buffer or a file path) unless the server has it; resolves
   * to its id.
   * @param {Buffer|string} tar  an uncompressed tar archive
   * @returns {Promise<string>}
   */
  async ensureTree(tar) {
    const bytes = typeof tar === 'string' ? fs.readFileSync(tar) : tar;
    const id = imageIdOf(bytes);
    try {
      await this._unary('getImage', { imageId: id }, 30000);
    } catch (err) {
      if (err.code !== grpc.status.NOT_FOUND) throw err;
      await this._unary('registerImage', { treeTar: bytes }, 120000);
    }
    return id;
  }

  /**
   * Runs the program at `programPath` in the mounted trees: `trees` maps mountpoints to tars
   * (Buffers or file paths; those the server lacks are registered first). `manifest` as for
   * execute (argv defaults to [programPath]); its mounts and programPath are set here.
   * @param {Object<string, Buffer|string>} trees  e.g. { '/': 'python3.tar' }
   * @param {string} programPath  e.g. '/usr/bin/python3'
   * @param {Manifest} [manifest]
   * @param {CallOptions} [options]
   * @returns {Promise<ExecuteResponse>}
   */
  async executeInTrees(trees, programPath, manifest = {}, options = {}) {
    const mounts = await this._treeMounts(trees);
    const full = { ...manifest, mounts, programPath };
    const deadlineMs = options.deadlineMs || timeoutOf(manifest) + DEADLINE_MARGIN_MS;
    return this._unary('execute', { manifest: full }, deadlineMs);
  }

  /** Mounts of `trees` ({mountpoint: tar}), registering each tree the server lacks. */
  async _treeMounts(trees) {
    const mounts = [];
    for (const [mountpoint, tar] of Object.entries(trees)) {
      mounts.push({ mountpoint, treeId: await this.ensureTree(tar) });
    }
    return mounts;
  }

  /**
   * Runs `elf` once: by id first, inline on NOT_FOUND. Guest outcomes are data; RPC errors reject.
   * @param {Buffer|string} elf  the ELF bytes or a file path
   * @param {Manifest} [manifest]
   * @param {CallOptions} [options]
   * @returns {Promise<ExecuteResponse>}
   */
  async execute(elf, manifest = {}, options = {}) {
    const bytes = typeof elf === 'string' ? fs.readFileSync(elf) : elf;
    const deadlineMs = options.deadlineMs || timeoutOf(manifest) + DEADLINE_MARGIN_MS;
    try {
      return await this._unary('execute', { imageId: imageIdOf(bytes), manifest }, deadlineMs);
    } catch (err) {
      if (err.code !== grpc.status.NOT_FOUND) throw err;
      return this._unary('execute', { image: bytes, manifest }, deadlineMs);
    }
  }

  /**
   * Runs `elf` with its channels connected to Node streams. The returned object's `stdin` is a
   * Writable (ending it ends the guest's stdin), `stdout` and `stderr` are Readables of the
   * guest's output as it writes it (backpressure reaches the guest: an unread stdout makes its
   * writes wait), `send(alias, data, end)` feeds another readable channel, and `result` resolves
   * to the ExecuteResponse (streamed outputs empty) or rejects with the RPC error. `cancel()`
   * kills the sandbox.
   * @param {Buffer|string} elf
   * @param {Manifest} [manifest]
   * @param {CallOptions} [options]
   * @returns {Promise<{stdin: import('node:stream').Writable, stdout: Readable, stderr: Readable,
   *   outputs: Map<string, Readable>, send: function(string, Buffer|string, boolean): boolean,
   *   result: Promise<ExecuteResponse>, cancel: function(): void}>}
   */
  async executeStream(elf, manifest = {}, options = {}) {
    const id = await this.ensureImage(elf);
    const deadlineMs = options.deadlineMs || timeoutOf(manifest) + DEADLINE_MARGIN_MS;
    const call = this.stub.executeStream({ deadline: deadlineFor(deadlineMs) });
    const outputs = new Map();
    const output = (alias) => {
      if (!outputs.has(alias)) {
        outputs.set(alias, new Readable({ read: () => call.resume() }));
      }
      return outputs.get(alias);
    };
    const stdout = output('/dev/stdout');
    const stderr = output('/dev/stderr');
    let settle;
    const result = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    let response = null;
    call.on('data', (message) => {
      if (message.output) {
        // Paused until the consumer reads: gRPC flow control then holds the server back.
        if (!output(message.output.alias).push(message.output.data)) call.pause();
      } else if (message.result) {
        response = message.result;
      }
    });
    call.on('error', (err) => {
      // The error is the result's; output streams carry it only to whoever listens for it.
      for (const r of outputs.values()) r.destroy(r.listenerCount('error') > 0 ? err : undefined);
      stdin.destroy();
      settle.reject(err);
    });
    call.on('status', (status) => {
      if (status.code !== grpc.status.OK) return; // 'error' reports it
      for (const r of outputs.values()) r.push(null);
      if (response) settle.resolve(response);
      else settle.reject(new Error('the stream ended without a result'));
    });
    call.write({ start: { imageId: id, manifest } });
    const send = (alias, data, end) =>
      call.write({ input: { alias, data: Buffer.from(data || ''), end: !!end } });
    const stdin = new Duplex({
      write(chunk, _enc, done) {
        if (send('/dev/stdin', chunk, false)) done();
        else call.once('drain', () => done());
      },
      final(done) {
        send('/dev/stdin', '', true);
        done();
      },
      read() {},
    });
    result.catch(() => {}); // the caller's handler decides; no unhandled rejection here
    return { stdin, stdout, stderr, outputs, send, result, cancel: () => call.cancel() };
  }

  /**
   * Runs `elf` under each manifest in one call; yields each run's result as it completes.
   * With `options.trees` ({mountpoint: tar}, as for executeInTrees) `elf` is a path in them:
   * each run mounts the trees unless it sets mounts, and runs that path unless it sets
   * programPath; no image is sent, and a path not in the trees fails its run alone.
   * @param {Buffer|string} elf
   * @param {Manifest[]} runs
   * @param {{parallelism?: number, deadlineMs?: number,
   *   trees?: Object<string, Buffer|string>}} [options]
   * @returns {AsyncGenerator<BatchResult>}
   */
  async *executeBatch(elf, runs, options = {}) {
    const request = { parallelism: options.parallelism || 0 };
    if (options.trees) {
      const mounts = await this._treeMounts(options.trees);
      request.runs = runs.map((m) => ({
        ...m,
        mounts: m.mounts && m.mounts.length ? m.mounts : mounts,
        programPath: m.programPath || elf,
      }));
    } else {
      request.imageId = await this.ensureImage(elf);
      request.runs = runs;
    }
    const total = runs.reduce((sum, m) => sum + timeoutOf(m), 0);
    const call = this.stub.executeBatch(
      request, { deadline: deadlineFor(options.deadlineMs || total + DEADLINE_MARGIN_MS) });
    for await (const result of call) {
      yield {
        index: result.index,
        response: result.errorCode === 0 ? result.response : null,
        errorCode: result.errorCode,
        errorMessage: result.errorMessage,
      };
    }
  }
}

module.exports = { Client, imageIdOf, grpc };
