// The core: pure logic with no I/O of its own. Everything that touches disk or network lives in other libs and
// reaches the core only through ObjectSource / ObjectSink.
export * from './ids/ids';
export * from './ids/subscriber-name';
export * from './errors/trib-error';
export * from './errors/exit-codes';
export * from './hashing/sha256';
export * from './objects/object-types';
export * from './objects/object-source';
export * from './objects/commit.codec';
export * from './paths/path-rules';
export * from './chunking/fastcdc';
export * from './objects/chunk-list.codec';
export * from './objects/file-content';
export * from './objects/file-append';
export * from './objects/file-splice';
export * from './delta/chunk-delta';
export * from './objects/tree.codec';
export * from './objects/tree-builder';
export * from './objects/tree-path-edit';
export * from './objects/tree-reader';
export * from './diff/tree-diff';
export * from './rows/record-file-bytes';
export * from './rows/record-splitter';
export * from './rows/row-diff';
export * from './merge/row-union';
export * from './merge/tree-merge';
export * from './timing/sleep';
