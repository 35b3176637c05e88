/** GitHub's list pagination: `per_page` (default 30, at most 100) and `page`, with a Link header. */

const MAX_PER_PAGE = 100;

export function paginate<T>(
  url: URL,
  items: readonly T[],
  baseUrl: string,
): { items: T[]; headers: Record<string, string> } {
  const perPage = Math.min(MAX_PER_PAGE, Math.max(1, Number(url.searchParams.get("per_page")) || 30));
  const page = Math.max(1, Number(url.searchParams.get("page")) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const link = (p: number): string => {
    const u = new URL(url.toString());
    u.searchParams.set("per_page", String(perPage));
    u.searchParams.set("page", String(p));
    return `<${baseUrl}${u.pathname}${u.search}>`;
  };
  const parts: string[] = [];
  if (page > 1) parts.push(`${link(page - 1)}; rel="prev"`);
  if (page < last) parts.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
  if (page > 1) parts.push(`${link(1)}; rel="first"`);
  return { items: slice, headers: parts.length ? { link: parts.join(", ") } : {} };
}
