// Original file: proto/tributary/v1/sync.proto

import type { Long } from '@grpc/proto-loader';

export interface CaughtUp {
  'seq'?: (number | string | Long);
}

export interface CaughtUp__Output {
  'seq': (number);
}
