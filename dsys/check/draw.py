def render_svg(*a): pass
def render_html(*a): pass
def draw_history(*a): pass
