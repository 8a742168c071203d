// Original file: proto/tributary/v1/transfer.proto

export const ObjectKind = {
  OBJECT_KIND_UNSPECIFIED: 'OBJECT_KIND_UNSPECIFIED',
  OBJECT_KIND_CHUNK: 'OBJECT_KIND_CHUNK',
  OBJECT_KIND_CHUNK_LIST: 'OBJECT_KIND_CHUNK_LIST',
  OBJECT_KIND_TREE: 'OBJECT_KIND_TREE',
  OBJECT_KIND_COMMIT: 'OBJECT_KIND_COMMIT',
} as const;

export type ObjectKind =
  | 'OBJECT_KIND_UNSPECIFIED'
  | 0
  | 'OBJECT_KIND_CHUNK'
  | 1
  | 'OBJECT_KIND_CHUNK_LIST'
  | 2
  | 'OBJECT_KIND_TREE'
  | 3
  | 'OBJECT_KIND_COMMIT'
  | 4

export type ObjectKind__Output = typeof ObjectKind[keyof typeof ObjectKind]
