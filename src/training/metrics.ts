// Goodness-of-fit numbers with R's definitions (summary.lm), so a stored model can be checked
// against lm() directly. n is the number of rows, p the number of coefficients (with the
// intercept): n - p is the residual degrees of freedom.

export function dot(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] ?? 0) * (b[i] ?? 0);
  return sum;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error("mean of no values");
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Residual sum of squares. */
export function rss(observed: readonly number[], fitted: readonly number[]): number {
  if (observed.length !== fitted.length) throw new Error("observed and fitted differ in length");
  let sum = 0;
  observed.forEach((y, i) => {
    const r = y - (fitted[i] ?? NaN);
    sum += r * r;
  });
  return sum;
}

/** Total sum of squares about the mean: the baseline R² compares with (model has an intercept). */
export function tss(observed: readonly number[]): number {
  const m = mean(observed);
  let sum = 0;
  for (const y of observed) sum += (y - m) * (y - m);
  return sum;
}

export function rSquared(rssValue: number, tssValue: number): number {
  return 1 - rssValue / tssValue;
}

export function adjRSquared(r2: number, n: number, p: number): number {
  return 1 - ((1 - r2) * (n - 1)) / (n - p);
}

/** Residual standard error, R's summary(fit)$sigma: unbiased for the error variance. */
export function sigma(rssValue: number, n: number, p: number): number {
  return Math.sqrt(rssValue / (n - p));
}

/** Root mean squared error on the training rows: divides by n, so it is below sigma. */
export function rmse(rssValue: number, n: number): number {
  return Math.sqrt(rssValue / n);
}
