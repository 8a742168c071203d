import { FailedPreconditionError, isTribError } from '@tributary/core';

/** A refusal that a forcing option would have gone past, with `hint` added to say so; any other error as it was. */
export function suggestForce(hint: string): (e: unknown) => never {
  return (e) => {
    if (isTribError(e) && e.details.overridable === true) throw new FailedPreconditionError(`${e.message}${hint}`, e.details);
    throw e;
  };
}
