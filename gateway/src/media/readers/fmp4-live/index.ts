export {
  Fmp4LiveReader,
  mseMimeType,
  type Fmp4LiveEndMessage,
  type Fmp4LiveInitMessage,
  type Fmp4LiveMessage,
  type Fmp4LiveOptions,
  type Fmp4LiveSink,
  type Fmp4LiveStats,
} from './fmp4-live-reader.js';
