// Original file: proto/tributary/v1/sync.proto

import type { Long } from '@grpc/proto-loader';

export interface Entry {
  'seq'?: (number | string | Long);
  'commit'?: (string);
}

export interface Entry__Output {
  'seq': (number);
  'commit': (string);
}
