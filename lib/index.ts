/** shmring: lock-free message rings in shared memory (Linux): one-to-many and many-to-one. */
export { Publication, type PublicationOptions, type AttachOptions } from './publication';
export { Subscription, type SubscriptionOptions, type CreateSubscriptionOptions } from './subscription';
export { ReliablePublication, type ProducerOptions, type ProducerStats } from './reliable-publication';
export { BroadcastPublication } from './broadcast-publication';
export { ReliableSubscription } from './reliable-subscription';
export type { DurableOptions, DurableStatus, DurableInfo, OnEvicted } from './durable-consumer';
export { BroadcastSubscription } from './broadcast-subscription';
export { ManyToOnePublication, type ManyToOneProducerStats } from './many-to-one-publication';
export { ManyToOneSubscription, type ManyToOneConsumerOptions } from './many-to-one-subscription';
export type { Message, StartFrom, WaitOptions } from './subscription-base';
export { Claim } from './claim';
export { OfferResult, type OfferResultValue } from './offer-result';
export type { MessageHandler } from './message-handler';
export {
  createRing,
  ringInfo,
  unlinkRing,
  listRings,
  removeStaleRings,
  type RingInfo,
  type ConsumerInfo,
  type ProducerCounters,
  type RingListing,
  type CreateRingOptions,
  type OpenRingOptions,
  type LocationOptions,
} from './rings';
export type { RingDescriptor, RingMode, RingLayoutOptions } from './ring-file';
export { RingServer } from './ring-server';
export {
  BusySpinIdleStrategy,
  YieldingIdleStrategy,
  SleepingIdleStrategy,
  BackoffIdleStrategy,
  type IdleStrategy,
} from './idle-strategy';
export { ShmringError, ErrorCode, type ErrorCodeValue } from './errors';
export { bridgeOut, type BridgeOutOptions } from './bridge/bridge-out';
export { bridgeIn, type BridgeInOptions } from './bridge/bridge-in';
export type { Bridge, BridgeCommonOptions } from './bridge/bridge-common';
export type { BridgeStats } from './bridge/bridge-status';
