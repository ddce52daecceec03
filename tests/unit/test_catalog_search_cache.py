"""The catalog's search cache: an answer is served only under the version it was computed at."""

from services.catalog.search_cache import SearchCache


def test_an_answer_is_served_while_the_version_stays() -> None:
    cache = SearchCache(16)
    assert cache.get(1, ("matematik",)) is None
    cache.put(1, ("matematik",), "answer")
    assert cache.get(1, ("matematik",)) == "answer"
    assert (cache.hits, cache.misses) == (1, 1)


def test_a_new_version_forgets_everything() -> None:
    cache = SearchCache(16)
    cache.get(1, "q")
    cache.put(1, "q", "old")
    assert cache.get(2, "q") is None
    assert cache.get(1, "q") is None  # going back does not bring the old answers back either


def test_an_answer_from_an_older_version_is_not_kept() -> None:
    cache = SearchCache(16)
    cache.get(5, "other")  # a request has already seen version 5
    cache.put(4, "q", "computed at 4")
    assert cache.get(5, "q") is None


def test_the_least_recently_used_answer_goes_first() -> None:
    cache = SearchCache(max_entries=2)
    cache.get(1, "a")
    cache.put(1, "a", "A")
    cache.put(1, "b", "B")
    assert cache.get(1, "a") == "A"  # a is now the most recent
    cache.put(1, "c", "C")
    assert cache.get(1, "b") is None and cache.get(1, "a") == "A" and cache.get(1, "c") == "C"


def test_no_entries_means_no_cache() -> None:
    cache = SearchCache(0)
    cache.get(1, "q")
    cache.put(1, "q", "A")
    assert cache.get(1, "q") is None
