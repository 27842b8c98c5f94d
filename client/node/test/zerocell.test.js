// End-to-end tests of the Node.js client against a real zerocelld (started here on 127.0.0.1:0).
// Needs $ZEROCELL_BIN_DIR (zerocelld) and $ZEROCELL_GUEST_DIR (the test guests), as ctest sets.
'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test, before, after } = require('node:test');
const { Client } = require('../zerocell.js');

const binDir = process.env.ZEROCELL_BIN_DIR;
const guestDir = process.env.ZEROCELL_GUEST_DIR;
const guest = (name) => path.join(guestDir, name);
let server;
let client;

// Starts zerocelld on an ephemeral port; resolves once its ready file names the port.
function startServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerocell-node-'));
  const readyFile = path.join(dir, 'ready.json');
  const child = spawn(path.join(binDir, 'zerocelld'),
    ['--listen=127.0.0.1:0', '--metrics_listen=127.0.0.1:0', `--ready_file=${readyFile}`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 20000;
    const poll = () => {
      const ready = fs.existsSync(readyFile) ? fs.readFileSync(readyFile, 'utf8') : '';
      const port = /"grpc_port":\s*(\d+)/.exec(ready);
      if (port) {
        resolve({ child, dir, address: `127.0.0.1:${port[1]}` });
      } else if (child.exitCode !== null || Date.now() > deadline) {
        reject(new Error(`zerocelld did not start: ${log}`));
      } else {
        setTimeout(poll, 20);
      }
    };
    poll();
  });
}

before(async () => {
  server = await startServer();
  client = new Client(server.address);
});

after(() => {
  client.close();
  server.child.kill('SIGKILL');
  fs.rmSync(server.dir, { recursive: true, force: true });
});

test('execute: a minimal manifest gets the default standard channels', async () => {
  const r = await client.execute(guest('hello'), { argv: ['hello'] });
  assert.equal(r.outcome, 'OUTCOME_EXITED');
  assert.equal(r.exitCode, 0);
  assert.deepEqual(r.channels.map((c) => c.alias), ['/dev/stdin', '/dev/stdout', '/dev/stderr']);
  assert.equal(r.channels[1].output.toString(), 'hello, world\n');
});

test('executeInTrees: a program by its path in a registered tree', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerocell-node-tree-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.copyFileSync(guest('hello'), path.join(dir, 'bin', 'hello'));
  const tar = path.join(dir, 'tree.tar');
  require('node:child_process').execFileSync('tar', ['-C', dir, '-cf', tar, 'bin']);
  const r = await client.executeInTrees({ '/': tar }, '/bin/hello');
  assert.equal(r.outcome, 'OUTCOME_EXITED');
  assert.equal(r.channels[1].output.toString(), 'hello, world\n');
  assert.equal(r.scratch.path, '/tmp');
  await assert.rejects(client.executeInTrees({ '/': tar }, '/bin/nope'),
    (err) => err.code === 5 && /manifest\.program_path/.test(err.details));  // NOT_FOUND
  // A batch by path: every run mounts the tree; a path not in it fails that run alone.
  const seen = new Map();
  for await (const b of client.executeBatch('/bin/hello', [{}, { programPath: '/bin/nope' }],
    { trees: { '/': tar } })) {
    seen.set(b.index, b);
  }
  assert.equal(seen.get(0).response.channels[1].output.toString(), 'hello, world\n');
  assert.equal(seen.get(1).errorCode, 5);
  assert.match(seen.get(1).errorMessage, /manifest\.program_path/);
  fs.rmSync(dir, { recursive: true });
});

test('executeStream: stdin piped in, stdout streamed out, result at the end', async () => {
  const run = await client.executeStream(guest('cat'), { argv: ['cat'] });
  const chunks = [];
  run.stdout.on('data', (d) => chunks.push(d));
  const big = Buffer.alloc(3 << 20, 'z'); // larger than the server's window
  run.stdin.write('first ');
  run.stdin.end(big);
  const result = await run.result;
  assert.equal(result.outcome, 'OUTCOME_EXITED');
  assert.equal(Buffer.concat(chunks).length, 6 + big.length);
  assert.equal(result.channels[0].readBytes, 6 + big.length);
  assert.equal(result.channels[1].output.length, 0); // streamed, not repeated
});

test('executeStream: cancel ends the call', async () => {
  const run = await client.executeStream(guest('cat'), { argv: ['cat'], timeoutMs: 60000 });
  run.stdin.write('ping');
  await new Promise((resolve) => run.stdout.once('data', resolve));
  run.cancel();
  await assert.rejects(run.result, (err) => err.code === 1); // CANCELLED
});

test('executeBatch: one result per run, errors per run', async () => {
  const runs = [
    { argv: ['exit_code', '3'] },
    { argv: ['exit_code', '0'] },
    { timeoutMs: -1 },
  ];
  const seen = new Map();
  for await (const r of client.executeBatch(guest('exit_code'), runs)) seen.set(r.index, r);
  assert.equal(seen.size, 3);
  assert.equal(seen.get(0).response.exitCode, 3);
  assert.equal(seen.get(1).response.outcome, 'OUTCOME_EXITED');
  assert.equal(seen.get(2).errorCode, 3); // INVALID_ARGUMENT
  assert.match(seen.get(2).errorMessage, /manifest\.timeout_ms/);
});
