// jsonb stores object keys in its own order (shortest first), which scrambled the
// coefficients' order that clients read as R prints it. json keeps the text as written;
// nothing queries inside a summary, so nothing is lost.
export const name = "model_summary_json";

export const sql = `
ALTER TABLE models ALTER COLUMN summary TYPE json USING summary::json;
`;
