/**
 * The contract every room shares: what the runner writes and the extension, its language server
 * and `akd` read. Nothing here imports the rest of the runner or TF.js. The extension imports
 * this barrel; the dashboard page imports the modules it needs one by one (this barrel also
 * re-exports the Node-only readers, which a browser bundle cannot load).
 */
export * from './configTypes';
export * from './events';
export * from './sweepEvents';
export * from './stream';
export * from './files';
export * from './exitCodes';
export * from './eventTail';
export * from './processAlive';
export * from './processIdentity';
export * from './runLock';
export * from './sessions';
export * from './sweepManifest';
export * from './runState';
export * from './sweepState';
export * from './comparison';
export * from './format';
export * from './series';
export * from './stats';
export * from './annealingSchedule';
export * from './runMeta';
export * from './experiments';
export * from './exportEvents';
