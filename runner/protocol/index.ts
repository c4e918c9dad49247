/** The shared vocabulary: import this (never TF.js modules) from the extension, server and webview. */
export * from './events';
export * from './configTypes';
export * from './sweepEvents';
