"""What a national (two-level) run may be asked, in one place for `surgeplan national`, `surgeplan submit
--national` and the API's `"national": {...}`: the numbers of regions and hubs tried, how regions are
found, the clustering's seed, and the lanes kept per receiver inside a region.

Light on purpose (no Ray, no scikit-learn until needed): the API validates requests with it.
`NationalRequest.config` builds the solver's `workers.two_level.NationalConfig`, importing it only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from decomposition.errors import InstanceError
from decomposition.problem.instance import Instance, json_number
from decomposition.spatial.splitting import (
    DEFAULT_HUBS,
    DEFAULT_REGIONS,
    MAX_COUNTS_TRIED,
    MAX_HUBS,
    MAX_LANES_PER_RECEIVER,
    MAX_REGIONS,
    MAX_SEED,
    Clustering,
)
from decomposition.temporal.pieces import DecompositionConfig

if TYPE_CHECKING:
    from workers.two_level import NationalConfig

DEFAULT_LANES_PER_RECEIVER = 20
# the tables a national run stores (tasks.output.national_files.national_tables), as the API serves them
NATIONAL_TABLES = ("shipments", "national_flows", "regions", "hospitals", "non_covered_per_day")

# the bounds before the validator, so that the JSON schema states them (minimum / maximum)
RegionCount = Annotated[int, Field(ge=1, le=MAX_REGIONS), BeforeValidator(json_number)]
HubCount = Annotated[int, Field(ge=1, le=MAX_HUBS), BeforeValidator(json_number)]


class NationalRequest(BaseModel):
    """A national run: the country is split into regions around depots, grouped around hubs, and solved
    in two levels (phi4 only). Every field has a default, so `{}` asks for a national run as it comes."""

    model_config = ConfigDict(extra="forbid")

    regions: list[RegionCount] = Field(
        default_factory=lambda: list(DEFAULT_REGIONS),
        min_length=1,
        max_length=MAX_COUNTS_TRIED,
        description=f"numbers of regions to try (1 to {MAX_COUNTS_TRIED} of them, each "
        f"from 1 to {MAX_REGIONS}); the fit scoring best is kept (see "
        "clustering)",
    )
    hubs: list[HubCount] = Field(
        default_factory=lambda: list(DEFAULT_HUBS),
        min_length=1,
        max_length=MAX_COUNTS_TRIED,
        description=f"numbers of national hubs to try among the depots (1 to "
        f"{MAX_COUNTS_TRIED} of them, each from 1 to {MAX_HUBS}); the K-medoids "
        "fit with the best silhouette is kept",
    )
    clustering: Clustering = Field(
        "mixture",
        description="how regions are found: mixture (Gaussian, weighted by "
        "demand, k by BIC), bayesian (Dirichlet-process mixture, finds k itself up to the "
        "largest of regions), kmedoids (FasterPAM on great-circle distances, k by silhouette)",
    )
    seed: Annotated[int, BeforeValidator(json_number)] = Field(
        0,
        ge=0,
        le=MAX_SEED,
        description="seed of the clustering (not of a dataset's drawn hospitals: that is options.seed)",
    )
    lanes_per_receiver: Annotated[int, BeforeValidator(json_number)] = Field(
        DEFAULT_LANES_PER_RECEIVER,
        ge=1,
        le=MAX_LANES_PER_RECEIVER,
        description="inside a region, each hospital is sent to along only its this many quickest lanes",
    )

    @field_validator("regions", "hubs")
    @classmethod
    def _distinct_and_sorted(cls, counts: list[int]) -> list[int]:
        # [3, 2] and [2, 3, 3] ask for the same run: stored alike, they share the dedupe key
        return sorted(set(counts))

    def config(self, decomposition: DecompositionConfig) -> NationalConfig:
        """The solver's configuration: `decomposition` (sub-horizon, solver, ...) for the national model
        and every region, with this request's lanes per receiver."""
        from workers.two_level import (
            NationalConfig,  # Ray loads in seconds: only when solving
        )

        return NationalConfig(
            decomposition.model_copy(update={"lanes_per_receiver": self.lanes_per_receiver}),
            region_ks=tuple(self.regions),
            hub_ks=tuple(self.hubs),
            clustering=self.clustering,
            seed=self.seed,
        )

    def check_fits(self, instance: Instance, source: str | None = None) -> None:
        """Refuse (InstanceError, field national.regions) numbers of regions none of which the instance's
        hospitals can make: the clustering would have nothing to fit."""
        from decomposition.spatial.hierarchy import (
            hospital_points,  # scikit-learn loads in a second: only when needed
        )

        hospitals = len(hospital_points(instance)[0])
        smallest = 2 if self.clustering == "kmedoids" else 1  # one medoid has no silhouette to score it
        if not any(smallest <= k <= hospitals for k in self.regions):
            raise InstanceError(
                f"no number of regions in {self.regions} fits {instance.name}'s {hospitals} "
                f"hospitals ({self.clustering} needs one from {smallest} to {hospitals})",
                source=source or instance.name,
                field="national.regions",
                value=self.regions,
            )
