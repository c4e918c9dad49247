/** The shared vocabulary: import this (never TF.js modules) from the extension, server and webview. */
export * from './events';
export * from '../config/types';
export * from './sweepEvents';
export * from './exportEvents';
