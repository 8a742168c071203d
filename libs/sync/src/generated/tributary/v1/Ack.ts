// Original file: proto/tributary/v1/sync.proto

import type { Long } from '@grpc/proto-loader';

export interface Ack {
  'seq'?: (number | string | Long);
  'conflict'?: (string);
  'settled'?: (number | string | Long)[];
}

export interface Ack__Output {
  'seq': (number);
  'conflict': (string);
  'settled': (number)[];
}
