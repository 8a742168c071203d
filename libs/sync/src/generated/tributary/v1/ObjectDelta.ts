// Original file: proto/tributary/v1/transfer.proto


export interface ObjectDelta {
  'base'?: (Buffer | Uint8Array | string);
  'delta'?: (Buffer | Uint8Array | string);
}

export interface ObjectDelta__Output {
  'base': (Buffer);
  'delta': (Buffer);
}
