// Original file: proto/tributary/v1/sync.proto

import type { Long } from '@grpc/proto-loader';

export interface PublishState {
  'head'?: (string);
  'seq'?: (number | string | Long);
  'commitSeq'?: (number | string | Long);
}

export interface PublishState__Output {
  'head': (string);
  'seq': (number);
  'commitSeq': (number);
}
