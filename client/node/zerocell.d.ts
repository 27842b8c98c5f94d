// Type definitions of zerocell.js (the JSDoc there is the reference).
import { Readable, Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';

export interface Channel {
  alias: string; type?: number; etag?: boolean; gets?: number; getSize?: number;
  puts?: number; putSize?: number; initialData?: Buffer;
}
export interface Manifest {
  argv?: string[]; env?: string[]; timeoutMs?: number; cpuLimitMs?: number;
  memoryBytes?: number; outputLimitBytes?: number; randomSeed?: number;
  clockStartUnixNs?: number; memoryEtag?: boolean; channels?: Channel[];
  mounts?: { mountpoint: string; treeId: string }[];
  scratch?: { path: string; maxBytes: number; maxFiles: number };
  programPath?: string;
}
export interface ChannelResult {
  alias: string; reads: number; readBytes: number; writes: number; writeBytes: number;
  getQuotaExceeded: boolean; putQuotaExceeded: boolean; etag: string; writable: boolean;
  output: Buffer;
}
export interface ExecuteResponse {
  outcome: string; exitCode: number; signal: number; detail: string;
  channels: ChannelResult[]; usage: Record<string, number>; imageId: string;
  nondeterminism: string[]; memoryEtag: string;
}
export interface BatchResult {
  index: number; response: ExecuteResponse | null; errorCode: number; errorMessage: string;
}
export interface CallOptions { deadlineMs?: number }
export interface StreamRun {
  stdin: Writable; stdout: Readable; stderr: Readable; outputs: Map<string, Readable>;
  send(alias: string, data: Buffer | string, end: boolean): boolean;
  result: Promise<ExecuteResponse>; cancel(): void;
}
export declare function imageIdOf(elf: Buffer): string;
export declare class Client {
  constructor(address: string, credentials?: grpc.ChannelCredentials);
  close(): void;
  ensureImage(elf: Buffer | string): Promise<string>;
  execute(elf: Buffer | string, manifest?: Manifest, options?: CallOptions): Promise<ExecuteResponse>;
  ensureTree(tar: Buffer | string): Promise<string>;
  executeInTrees(trees: Record<string, Buffer | string>, programPath: string, manifest?: Manifest,
                 options?: CallOptions): Promise<ExecuteResponse>;
  executeStream(elf: Buffer | string, manifest?: Manifest, options?: CallOptions): Promise<StreamRun>;
  executeBatch(elf: Buffer | string, runs: Manifest[],
               options?: { parallelism?: number; deadlineMs?: number;
                           trees?: Record<string, Buffer | string> }): AsyncGenerator<BatchResult>;
}
export { grpc };
