/** The library surface: the pool, its configuration and its types. */
export { GeminiAPIPool, PoolChat, type GeminiAPIPoolOptions, type PoolStream } from './pool/GeminiAPIPool.ts';
export { createPool, createServices, poolOptions, type Services } from './services.ts';
export { loadConfig, loadDotEnv, ConfigError, isConfigError, type Config, type GeminiConfig } from './config.ts';
export { classifyError, classifyHttp, type Classified } from './gemini/classify.ts';
export type { ClientFactory, GeminiClient } from './gemini/adapter.ts';
export { describeKey, type KeySpec, type PoolKey } from './pool/keys.ts';
export { nextPacificMidnight, pacificDay, type Clock } from './pool/time.ts';
export * from './pool/types.ts';
export { NATIVE_METHODS, type NativeBody, type NativeFailure, type NativeMethod, type NativeRequest, type NativeResult, type NativeStream, type NativeSuccess } from './pool/nativeTypes.ts';
export type { GeminiJson, GeminiMethod } from './gemini/native.ts';
export type { LimiterOptions, QuotaLimits } from './pool/limiter.ts';
export { createStore, MemoryStore, SqliteStore, RedisStore, type StateStore, type PoolStateStore, type ConversationStore } from './store/index.ts';
