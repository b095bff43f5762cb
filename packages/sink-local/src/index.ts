import { localSinkProvider } from './local-sink.js';

export { createLocalSink, localPathOf, localSinkProvider, type LocalSinkOptions } from './local-sink.js';
export default localSinkProvider;
