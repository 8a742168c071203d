// Original file: proto/tributary/v1/transfer.proto


export interface HaveQuery {
  'ids'?: (Buffer | Uint8Array | string);
}

export interface HaveQuery__Output {
  'ids': (Buffer);
}
