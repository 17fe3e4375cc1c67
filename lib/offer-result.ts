/**
 * Negative results of `offer`/`offerParts`: normal outcomes, never exceptions (Aeron's publication results).
 * A non-negative result is the producer's new position.
 */
export const OfferResult = {
  /** The ring is full: a live consumer has not read far enough (reliable mode). Try again later. */
  BACK_PRESSURED: -2,
  /** The publication was closed. */
  CLOSED: -4,
} as const;

export type OfferResultValue = (typeof OfferResult)[keyof typeof OfferResult];
