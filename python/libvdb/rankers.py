"""Hybrid search requests and rankers, shaped like pymilvus's AnnSearchRequest, RRFRanker and
WeightedRanker (MilvusClient.hybrid_search takes them)."""

import numbers

from ._data import einval


class AnnSearchRequest:
    """One ANN request of a hybrid search: data (query vectors) searched in anns_field with
    param ({"metric_type": ..., "params": {...}} as search's search_params), its own
    `limit` hits, those passing expr (a filter; expr_params fills its {name} templates)."""

    def __init__(self, data, anns_field, param, limit, expr=None, expr_params=None, **kwargs):
        if kwargs:
            raise TypeError("AnnSearchRequest() got an unexpected keyword argument %r"
                            % next(iter(kwargs)))
        if not isinstance(anns_field, str) or not anns_field:
            raise einval("AnnSearchRequest: anns_field must be a vector field's name")
        if param is not None and not isinstance(param, dict):
            raise einval("AnnSearchRequest: param must be a dict")
        if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
            raise einval("AnnSearchRequest: limit must be a positive integer, not %r"
                         % (limit,))
        if expr is not None and not isinstance(expr, str):
            raise einval("AnnSearchRequest: expr must be a string")
        self.data, self.anns_field, self.param = data, anns_field, dict(param or {})
        self.limit, self.expr, self.expr_params = int(limit), expr, expr_params

    def __repr__(self):
        return "AnnSearchRequest(anns_field=%r, limit=%d, expr=%r)" % (
            self.anns_field, self.limit, self.expr)


class RRFRanker:
    """Reciprocal rank fusion: a row scores sum(1 / (k + rank)) over the requests that found
    it (rank from 1). k in (0, 16384), default 60, as Milvus."""

    def __init__(self, k=60):
        if isinstance(k, bool) or not isinstance(k, numbers.Real) or not 0 < k < 16384:
            raise einval("RRFRanker: k must be in (0, 16384), not %r" % (k,))
        self.k = k

    def dict(self):
        return {"strategy": "rrf", "params": {"k": self.k}}

    def _spec(self):
        return "rrf", {"k": self.k}


class WeightedRanker:
    """Weighted fusion: a row scores sum(weight * norm(score)) over the requests that found it,
    one weight in [0, 1] per request. norm_score=True (Milvus's default) maps each score into
    [0, 1] by its field's metric: IP 0.5 + atan(s)/pi, COSINE (1 + s)/2, L2
    1 - 2*atan(s)/pi; False sums raw scores (all-L2 requests: a distance, smaller first)."""

    def __init__(self, *weights, norm_score=True):
        if not weights:
            raise einval("WeightedRanker needs one weight per request")
        for w in weights:
            if isinstance(w, bool) or not isinstance(w, numbers.Real) or not 0 <= w <= 1:
                raise einval("WeightedRanker: weights must be numbers in [0, 1], not %r" % (w,))
        self.weights = [float(w) for w in weights]
        self.norm_score = bool(norm_score)

    def dict(self):
        return {"strategy": "weighted",
                "params": {"weights": list(self.weights), "norm_score": self.norm_score}}

    def _spec(self):
        return "weighted", {"weights": list(self.weights), "norm_score": self.norm_score}
