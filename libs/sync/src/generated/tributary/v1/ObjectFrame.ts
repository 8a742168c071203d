// Original file: proto/tributary/v1/transfer.proto

import type { ObjectKind as _tributary_v1_ObjectKind, ObjectKind__Output as _tributary_v1_ObjectKind__Output } from '../../tributary/v1/ObjectKind';
import type { ObjectDelta as _tributary_v1_ObjectDelta, ObjectDelta__Output as _tributary_v1_ObjectDelta__Output } from '../../tributary/v1/ObjectDelta';

export interface ObjectFrame {
  'id'?: (Buffer | Uint8Array | string);
  'kind'?: (_tributary_v1_ObjectKind);
  'data'?: (Buffer | Uint8Array | string);
  'delta'?: (_tributary_v1_ObjectDelta | null);
  'payload'?: "data"|"delta";
}

export interface ObjectFrame__Output {
  'id': (Buffer);
  'kind': (_tributary_v1_ObjectKind__Output);
  'data'?: (Buffer);
  'delta'?: (_tributary_v1_ObjectDelta__Output | null);
  'payload'?: "data"|"delta";
}
