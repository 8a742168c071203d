// Original file: proto/tributary/v1/transfer.proto


export interface CommitEnd {
  'commit'?: (Buffer | Uint8Array | string);
}

export interface CommitEnd__Output {
  'commit': (Buffer);
}
