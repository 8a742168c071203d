import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as AdminProto } from '../generated/admin';
import type { ProtoGrpcType as SyncProto } from '../generated/sync';

/** `proto/` at the repository root; src/wire and dist/wire sit at the same depth, so this works from both. */
export const PROTO_ROOT = path.resolve(__dirname, '../../../../proto');
export const PROTO_FILES = ['tributary/v1/sync.proto', 'tributary/v1/admin.proto', 'tributary/v1/transfer.proto'];

/**
 * Loader options matching the generated types (`npm run gen:proto`): uint64 as number, enums as strings,
 * defaults filled in, and a virtual field naming the set member of each oneof.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

export type TributaryProto = SyncProto & AdminProto;

let cached: { definition: protoLoader.PackageDefinition; proto: TributaryProto } | undefined;

/** The package definition of tributary.v1 (for a Nest `protoPath`, use PROTO_ROOT and PROTO_FILES instead). */
export function loadPackageDefinition(): protoLoader.PackageDefinition {
  return load().definition;
}

/** tributary.v1 as grpc-js service constructors and message types, loaded once per process. */
export function loadTributaryProto(): TributaryProto {
  return load().proto;
}

function load(): { definition: protoLoader.PackageDefinition; proto: TributaryProto } {
  if (!cached) {
    const definition = protoLoader.loadSync(PROTO_FILES, PROTO_LOADER_OPTIONS);
    cached = { definition, proto: grpc.loadPackageDefinition(definition) as unknown as TributaryProto };
  }
  return cached;
}
