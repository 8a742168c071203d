// Original file: proto/tributary/v1/transfer.proto


export interface HaveReply {
  'missing'?: (Buffer | Uint8Array | string);
}

export interface HaveReply__Output {
  'missing': (Buffer);
}
