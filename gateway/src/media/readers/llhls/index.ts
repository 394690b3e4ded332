export { LlhlsClosedError, LlhlsReader, LlhlsRequestError, type LlhlsOptions, type LlhlsResource, type LlhlsStats } from './llhls-reader.js';
