// Original file: proto/tributary/v1/transfer.proto

import type { ObjectFrame as _tributary_v1_ObjectFrame, ObjectFrame__Output as _tributary_v1_ObjectFrame__Output } from '../../tributary/v1/ObjectFrame';

export interface ObjectBatch {
  'objects'?: (_tributary_v1_ObjectFrame)[];
}

export interface ObjectBatch__Output {
  'objects': (_tributary_v1_ObjectFrame__Output)[];
}
