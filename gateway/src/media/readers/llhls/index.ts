export {
  blockingRequestOf,
  LLHLS_PLAYLIST_NAME,
  LLHLS_RESOURCE_PATTERN,
  LlhlsClosedError,
  LlhlsReader,
  LlhlsRequestError,
  type LlhlsOptions,
  type LlhlsResource,
  type LlhlsStats,
} from './llhls-reader.js';
