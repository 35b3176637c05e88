# CONTAINER_SUBNETS in Nix: parse `A.B.C.0/24-D.E.F.0/24` into /24 network numbers (the address
# shifted right by 8, as src/domain/subnets.ts counts them), so that the module can tell how many
# containers a range holds and whether two instances' ranges overlap. Builtins only.
let
  octet = "(0|[1-9][0-9]{0,2})";
  network = "${octet}\\.${octet}\\.${octet}\\.0/24";
  rangeRe = " *${network} *- *${network} *";
  num = builtins.fromJSON;
in
rec {
  # { first, last } (network numbers), or null when `text` is not a usable range of /24s.
  parse =
    text:
    let
      m = builtins.match rangeRe text;
      at = i: num (builtins.elemAt m i);
      octets = if m == null then [ ] else map num m;
      first = (at 0) * 65536 + (at 1) * 256 + (at 2);
      last = (at 3) * 65536 + (at 4) * 256 + (at 5);
      usable = a: a != 0 && a != 127 && a < 224;
    in
    if m == null || builtins.any (o: o > 255) octets || !(usable (at 0)) || !(usable (at 3)) || first > last then
      null
    else
      { inherit first last; };

  # How many /24s the range holds (0 for one that does not parse).
  count =
    text:
    let
      r = parse text;
    in
    if r == null then 0 else r.last - r.first + 1;

  # Whether two ranges (as written) share a /24; false when either does not parse.
  overlap =
    a: b:
    let
      x = parse a;
      y = parse b;
    in
    x != null && y != null && x.first <= y.last && y.first <= x.last;
}
