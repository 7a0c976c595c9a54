export {
  ANCHOR_IP,
  ANCHOR_IPV6,
  GATEWAY_IP,
  GATEWAY_IPV6,
  isVeilidGlobalIpv4,
  isVeilidGlobalIpv6,
  NODE_DEVICE,
  NODE_PORT,
  type NodeAddress,
  nodeAddressAt,
} from "./addresses.ts"
export {
  ConfigShapeError,
  type DhtTuning,
  INTERNAL_DEFAULTS_0_5_8,
  type Json,
  type JsonObject,
  SMALL_NETWORK_DHT,
  type TestnetNodeOptions,
  testnetNodeConfig,
  type VeilidConfigJson,
} from "./config.ts"
export {
  ENV_DATA_DIR,
  ENV_INFO,
  ENV_NAMESPACE,
  ENV_NATIVE,
  ENV_RUN_DIR,
  type InsideEnvironment,
  insideEnvironment,
  NotInTestnet,
} from "./environment.ts"
export { generateNodeKeyPair, type NodeKeyPair } from "./keys.ts"
export {
  loadNativeBinding,
  type NativeBinding,
  NativeBindingMissing,
  type NativeNode,
  resolveNativeBinding,
} from "./native.ts"
export {
  type AppliedShape,
  applyShape,
  describeShape,
  ENV_NETWORK,
  type LinkShape,
  type NetworkShape,
  parseLinkShape,
  ShapingError,
} from "./shaping.ts"
export {
  type AttachedTestnet,
  attachTestnet,
  DEFAULT_NODE_COUNT,
  DEFAULT_READY_TIMEOUT_MS,
  type NodeConfigOptions,
  startTestnet,
  type Testnet,
  TestnetError,
  type TestnetInfo,
  type TestnetNode,
  type TestnetOptions,
  withTestnet,
} from "./testnet.ts"
export { bootstrapRecordV0, bootstrapZone } from "./zone.ts"
