export * from './errors/brook-error.ts';
export * from './errors/error-codes.ts';
export * from './frame/frame.ts';
export * from './generated/index.ts';
export * from './primitives/codec-support.ts';
export { Reader } from './primitives/reader.ts';
export * from './primitives/uuid.ts';
export { Writer } from './primitives/writer.ts';
export * from './records/index.ts';
