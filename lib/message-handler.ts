/**
 * Called once per message by `poll`. `buffer` is the whole mapping (or a reassembly/copy buffer): the message is
 * `buffer[offset .. offset + length)`. Valid only during the call: copy what you keep. No view is created per
 * message; make your own (`buffer.subarray(offset, offset + length)`) only when you need one.
 */
export type MessageHandler = (buffer: Uint8Array, offset: number, length: number, typeId: number) => void;
