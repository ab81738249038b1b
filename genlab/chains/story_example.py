"""The course's example values for the story template's six variables.

A module of its own, importing nothing, so that the CLI can show them as option defaults
without importing langchain-core (``genlab --help`` stays light).
"""

#: The course's example values for the six variables (the CLI's and the tool's defaults).
COURSE_STORY_EXAMPLE = {
    "setting": "enchanted forest",
    "character": "brave adventurer",
    "mysterious_object": "glowing crystal",
    "magical_properties": "the power to grant wishes",
    "action": "embark on a quest to uncover its origins",
    "outcome": "a world filled with endless possibilities",
}
